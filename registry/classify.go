package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
)

// Classify adds this package's sentinel to an error containers/image
// returned while talking to a registry, so that callers can tell
// ErrUnauthorized, ErrNotFound and ErrUnreachable apart; other errors are
// returned as they are. The message is kept.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case isUnauthorized(err):
		sentinel = ErrUnauthorized
	case isNotFound(err):
		sentinel = ErrNotFound
	case isUnreachable(err):
		sentinel = ErrUnreachable
	default:
		return err
	}
	return &classified{sentinel: sentinel, err: err}
}

// classified is err, recognisable as sentinel.
type classified struct {
	sentinel error
	err      error
}

func (c *classified) Error() string        { return c.err.Error() }
func (c *classified) Unwrap() []error      { return []error{c.sentinel, c.err} }
func (c *classified) Is(target error) bool { return target == c.sentinel }

func isUnauthorized(err error) bool {
	var creds docker.ErrUnauthorizedForCredentials
	if errors.As(err, &creds) {
		return true
	}
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) {
		switch ec.ErrorCode() {
		case errcode.ErrorCodeUnauthorized, errcode.ErrorCodeDenied:
			return true
		}
	}
	return strings.Contains(err.Error(), "authentication required")
}

func isNotFound(err error) bool {
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) {
		switch ec.ErrorCode() {
		case v2.ErrorCodeManifestUnknown, v2.ErrorCodeNameUnknown, v2.ErrorCodeBlobUnknown:
			return true
		}
	}
	// Registries that answer 404 without an OCI error body.
	var status docker.UnexpectedHTTPStatusError
	if errors.As(err, &status) && status.StatusCode == http.StatusNotFound {
		return true
	}
	// The body of an unparsable 404 is only visible in the message.
	return strings.Contains(err.Error(), "error parsing HTTP 404 response body")
}

func isUnreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var certInvalid x509.CertificateInvalidError
	var recordHeader tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &op), errors.As(err, &dns),
		errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &certInvalid),
		errors.As(err, &recordHeader):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return true
	}
	return false
}

// Describe is a short reason for a classified error, for messages such as
// `image "x" not found: manifest unknown`: the registry's own words where
// it gave some, else the error.
func Describe(err error) string {
	var ec errcode.Error
	if errors.As(err, &ec) {
		return ec.Message
	}
	var ecs errcode.Errors
	if errors.As(err, &ecs) && len(ecs) > 0 {
		return fmt.Sprint(ecs[0])
	}
	return err.Error()
}
