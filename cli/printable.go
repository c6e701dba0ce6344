package cli

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// printable is s with every character that is not printable escaped the
// way Go escapes it (\x1b, \n, \u202e; \xff for a byte that is not
// UTF-8). What box prints comes largely from images and containers, that
// is from strangers: an image's history, labels or paths, a container's
// file names. Raw, they could write escape sequences to the user's
// terminal (retitle it, clear it, on some terminals make it answer as
// if typed), and a newline could forge a line of a listing. JSON output
// needs none of this: encoding/json escapes what it must.
func printable(s string) string { return escapeUnprintable(s, false) }

// printableText is printable but for newlines and tabs, which stay: what
// a --format template prints is the fields the user asked for, a
// healthcheck's output or a label of several lines among them, laid out
// as in Docker; it is the escape sequences that must not get through.
func printableText(s string) string { return escapeUnprintable(s, true) }

func escapeUnprintable(s string, keepLayout bool) string {
	ok := func(r rune) bool {
		return r != utf8.RuneError && strconv.IsPrint(r) || keepLayout && (r == '\n' || r == '\t')
	}
	clean := true
	for _, r := range s {
		if !ok(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case ok(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// printableValue is a deep copy of v with every string in it (struct
// fields, map keys and values, slice elements) made printableText: what a
// --format template gets, so that no field it names, however nested,
// reaches the terminal raw.
func printableValue(v any) any {
	if v == nil {
		return nil
	}
	return printableOf(reflect.ValueOf(v)).Interface()
}

func printableOf(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(printableText(v.String()))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(printableOf(v.Elem()))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(printableOf(v.Elem()))
		return out
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(printableOf(v.Index(i)))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			out.Index(i).Set(printableOf(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(printableOf(it.Key()), printableOf(it.Value()))
		}
		return out
	case reflect.Struct:
		// A copy, unexported fields (a time.Time's) and all; then the
		// exported ones, which a template can name.
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if f := out.Field(i); f.CanSet() {
				f.Set(printableOf(v.Field(i)))
			}
		}
		return out
	}
	return v
}

// printableJSON is JSON text b with every character that is not
// printable escaped as \uXXXX, the same value still. encoding/json already
// escapes the C0 controls; DEL, the C1 controls (0x9b is a CSI to some
// terminals) and the bidirectional overrides it writes raw. Outside its
// strings JSON is printable ASCII and whitespace, so only strings change.
func printableJSON(b []byte) []byte {
	clean := true
	for _, r := range string(b) {
		if !jsonPrintable(r) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case jsonPrintable(r):
			out.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return []byte(out.String())
}

func jsonPrintable(r rune) bool {
	return r == '\n' || r == '\t' || r == '\r' || r != utf8.RuneError && strconv.IsPrint(r)
}
