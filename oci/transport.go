package oci

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// DefaultTimeout is Registry.Timeout when it is zero: how long a registry may keep gadgetry
// waiting at any one step (connecting, the TLS handshake, the answer to a request, the next
// bytes of a request or an answer). A whole pull of a large image may take longer: the limit
// is on silence, not on the transfer.
const DefaultTimeout = 30 * time.Second

// TimeoutError says that a registry kept gadgetry waiting longer than Registry.Timeout, at
// which step and for which request. It is a net.Error whose Timeout is true.
type TimeoutError struct {
	// Host is the registry ("host:port").
	Host string
	// Step is what was waited for: StepConnect, StepTLS, StepSend, StepAnswer or StepBody.
	Step string
	// Request is the request waited on ("GET /v2/…"); empty for StepConnect.
	Request string
	// After is the limit that ran out.
	After time.Duration
	err   error
}

// The steps of a request a TimeoutError names.
const (
	StepConnect = "connect"
	StepTLS     = "tls"
	StepSend    = "send"
	StepAnswer  = "answer"
	StepBody    = "body"
)

func (e *TimeoutError) Error() string {
	const wait = "wait longer with --registry-timeout"
	switch e.Step {
	case StepConnect:
		return fmt.Sprintf("connecting to registry %s timed out after %s; check the address, or %s", e.Host, e.After, wait)
	case StepTLS:
		return fmt.Sprintf("registry %s accepted the connection but did not complete the TLS handshake within %s; check that a registry speaking HTTPS listens there, or %s", e.Host, e.After, wait)
	case StepSend:
		return fmt.Sprintf("registry %s stopped taking the request (%s) for %s; if it is only slow, %s", e.Host, e.Request, e.After, wait)
	case StepBody:
		return fmt.Sprintf("registry %s stopped sending its answer to %s for %s; if it is only slow, %s", e.Host, e.Request, e.After, wait)
	}
	return fmt.Sprintf("registry %s accepted the connection but did not answer %s within %s; if it is only slow, %s", e.Host, e.Request, e.After, wait)
}

// Unwrap returns the network error underneath.
func (e *TimeoutError) Unwrap() error { return e.err }

// Timeout reports true: a TimeoutError is a net.Error that timed out.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports true (net.Error).
func (e *TimeoutError) Temporary() bool { return true }

// speaksTLSError says that a registry reached over plain HTTP answered as a TLS server does.
type speaksTLSError struct{ host string }

func (e *speaksTLSError) Error() string {
	return fmt.Sprintf("registry %s speaks HTTPS, but --insecure-registries %s makes gadgetry talk plain HTTP to it: drop it from the insecure registries (from the flag, $GADGETRY_INSECURE_REGISTRIES or insecureRegistries of the config file) and trust its certificate with --registry-ca FILE, or skip the certificate check with --insecure", e.host, e.host)
}

// deadlineConn is a connection on which every read and write must make progress within d.
type deadlineConn struct {
	net.Conn
	d time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(p)
}

// newTransport returns an HTTP transport whose every step is bounded by timeout (see
// TimeoutError) and that reads errors in words (timeouts, a TLS server spoken to in plain
// HTTP).
func newTransport(tlsConfig *tls.Config, timeout time.Duration) http.RoundTripper {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &deadlineConn{Conn: c, d: timeout}, nil
	}
	tr.TLSClientConfig = tlsConfig
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = timeout
	tr.ExpectContinueTimeout = time.Second
	// An idle connection is closed before its pending read hits the deadline.
	tr.IdleConnTimeout = timeout / 2
	// HTTP/1.1 only: HTTP/2 reads its connection all the time, idle or not, so a per-read
	// deadline would end every idle connection with an error, and its errors do not say
	// which request timed out. Registries serve HTTP/1.1 as well.
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return &wordsTransport{base: tr, timeout: timeout}
}

// wordsTransport turns the base transport's timeouts into TimeoutErrors naming the step, and
// a plain-HTTP request answered by a TLS server into a speaksTLSError.
type wordsTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t *wordsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var step atomic.Value
	step.Store(StepConnect)
	trace := &httptrace.ClientTrace{
		TLSHandshakeStart:    func() { step.Store(StepTLS) },
		GotConn:              func(httptrace.GotConnInfo) { step.Store(StepSend) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { step.Store(StepAnswer) },
		GotFirstResponseByte: func() { step.Store(StepBody) },
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	what := req.Method + " " + req.URL.Path
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		if isTimeout(err) {
			s := step.Load().(string)
			if s == StepBody { // the headers had started: still waiting for the answer
				s = StepAnswer
			}
			return nil, &TimeoutError{Host: req.URL.Host, Step: s, Request: what, After: t.timeout, err: err}
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusBadRequest && req.URL.Scheme == "http" && speaksTLS(req.Context(), req.URL.Host, t.timeout) {
		// TLS servers answer a plain-HTTP request with a bare 400 ("Client sent an HTTP
		// request to an HTTPS server"): the registry wants HTTPS.
		resp.Body.Close()
		return nil, &speaksTLSError{host: req.URL.Host}
	}
	resp.Body = &timedBody{ReadCloser: resp.Body, host: req.URL.Host, what: what, after: t.timeout}
	return resp, nil
}

// timedBody names the request when reading its answer times out.
type timedBody struct {
	io.ReadCloser
	host, what string
	after      time.Duration
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && isTimeout(err) {
		err = &TimeoutError{Host: b.host, Step: StepBody, Request: b.what, After: b.after, err: err}
	}
	return n, err
}

// isTimeout reports whether err is a network timeout (a deadline, or the transport's own
// handshake and header timers), not a cancelled context.
func isTimeout(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// speaksTLS reports whether host completes a TLS handshake (any certificate) within timeout.
func speaksTLS(ctx context.Context, host string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
