package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// Blobs larger than stallOver come only in part through stallBlobs: the
// first stallAfter bytes, then nothing until the client goes.
const (
	stallOver  = 1 << 20
	stallAfter = 64 << 10
)

// stallBlobs serves, on a port of its own, the registry at upstream with
// every large blob stalled part way: a pull from it stays under way, its
// temporary files in place, for as long as a test needs. Uploads pass.
func stallBlobs(upstream string) (string, error) {
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		return "", err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = r.In.Host },
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			req := resp.Request
			if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") && resp.ContentLength > stallOver {
				resp.Body = &stalled{r: resp.Body, left: stallAfter, ctx: req.Context()}
			}
			return nil
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(l, proxy) }()
	return l.Addr().String(), nil
}

// stalled passes left bytes of r, then blocks until ctx ends.
type stalled struct {
	r    io.ReadCloser
	left int
	ctx  context.Context
}

func (s *stalled) Read(p []byte) (int, error) {
	if s.left == 0 {
		<-s.ctx.Done()
		return 0, errors.New("stalled blob: the client went")
	}
	n, err := s.r.Read(p[:min(len(p), s.left)])
	s.left -= n
	return n, err
}

func (s *stalled) Close() error { return s.r.Close() }
