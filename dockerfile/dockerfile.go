// Package dockerfile turns a Dockerfile into the plan of a build: the
// stages a target needs, in order, and for each the steps it runs with
// every word expanded, and the image config and history each step leaves.
//
// It parses with BuildKit's own parser, instructions and shell-word
// packages, so every instruction, directive, heredoc, ARG scoping rule and
// expansion means what it means in Docker; what BuildKit's frontend does
// with them (dockerfile2llb) is mirrored here, since that package drags in
// the whole of BuildKit.
//
// It opens no files and runs nothing. The configs of base images come from
// the caller (a Resolver); executing the steps is package build's job. Do
// not use it to decide what a running container gets: the config it
// computes is the image's, before run's flags.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Error is a Dockerfile that cannot be built as written: the line it is
// on (0 when no line is to blame) and the instruction, when there is one.
// The caller adds the file's name.
type Error struct {
	Line        int
	Instruction string // upper case, "" when unknown
	Err         error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Instruction != "" && !strings.HasPrefix(strings.ToUpper(msg), e.Instruction) {
		msg = e.Instruction + ": " + msg
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, msg)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownTarget: --target names no stage.
var ErrUnknownTarget = errors.New("no such build stage")

// File is a parsed Dockerfile: its stages and the ARGs before the first
// FROM, in order.
type File struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	warnings []string
}

// Parse reads a Dockerfile. It fails, before anything is built, on what
// Docker's parser refuses: an unknown instruction, a bad flag, an
// unterminated heredoc, a file without FROM.
func Parse(data []byte) (*File, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Err: errors.New("the Dockerfile is empty")}
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, &Error{Line: errorLine(err), Err: unwrapLocation(err)}
	}
	f := &File{escape: res.EscapeToken}
	for _, w := range res.Warnings {
		f.warnings = append(f.warnings, w.Short)
	}
	// instructions.Parse, node by node, so an error knows its node.
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstruction(n)
		if err != nil {
			name := strings.ToUpper(n.Value)
			if errors.As(err, new(*instructions.UnknownInstructionError)) {
				name = "" // the message names it
			}
			return nil, &Error{Line: n.StartLine, Instruction: name, Err: unwrapLocation(err)}
		}
		if len(f.stages) == 0 {
			if a, ok := cmd.(*instructions.ArgCommand); ok {
				f.metaArgs = append(f.metaArgs, *a)
				continue
			}
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			f.stages = append(f.stages, *c)
		case instructions.Command:
			if len(f.stages) == 0 {
				return nil, &Error{Line: n.StartLine, Instruction: strings.ToUpper(n.Value), Err: errors.New("the Dockerfile must begin with FROM (ARG may come before it)")}
			}
			st := &f.stages[len(f.stages)-1]
			st.AddCommand(c)
		default:
			return nil, &Error{Line: n.StartLine, Err: fmt.Errorf("%T is not an instruction", cmd)}
		}
	}
	if len(f.stages) == 0 {
		return nil, &Error{Err: errors.New("the Dockerfile has no FROM: nothing to build")}
	}
	return f, nil
}

// Warnings are what the parser noticed but accepted (empty continuation
// lines), one line each.
func (f *File) Warnings() []string { return f.warnings }

// StageNames lists the stages' names ("" for unnamed ones), in order.
func (f *File) StageNames() []string {
	names := make([]string, len(f.stages))
	for i, s := range f.stages {
		names[i] = s.Name
	}
	return names
}

func (f *File) lex() *shell.Lex { return shell.NewLex(f.escape) }

// errorLine is the first line a parser error points at.
func errorLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, loc := range le.Locations {
			for _, r := range loc {
				if r.Start.Line > 0 {
					return r.Start.Line
				}
			}
		}
	}
	return 0
}

// unwrapLocation drops BuildKit's location wrapper and the "dockerfile
// parse error on line N" prefix: Error says where.
func unwrapLocation(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && le.Unwrap() != nil {
		err = le.Unwrap()
	}
	return err
}

// locationLine is the first line of an instruction's location.
func locationLine(loc []parser.Range) int {
	for _, r := range loc {
		if r.Start.Line > 0 {
			return r.Start.Line
		}
	}
	return 0
}
