package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ctlTimeout bounds one API call; backup streams without a bound.
const ctlTimeout = 2 * time.Minute

// ctlHTTPClient speaks HTTP to the admin socket at path; the URL host is
// only a name ("ticketmx").
func ctlHTTPClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
		DisableCompression: true, // raw messages and backups must arrive byte-exact
	}}
}

// ctlURL is the API URL of path segments; each is escaped, so an id such
// as "acme#4" stays one segment.
func ctlURL(query url.Values, segments ...string) string {
	var b strings.Builder
	b.WriteString("http://ticketmx")
	for _, s := range segments {
		b.WriteString("/" + url.PathEscape(s))
	}
	if len(query) > 0 {
		b.WriteString("?" + query.Encode())
	}
	return b.String()
}

// do sends a request and returns the response of a 2xx answer; any other
// answer becomes an error with the API's {"error"} text.
func (c *ctl) do(ctx context.Context, method, u string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("daemon not running (no admin socket at %s)", c.socket)
		}
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("permission denied on admin socket %s (see admin.socket_mode)", c.socket)
		}
		return nil, fmt.Errorf("admin socket %s: %w", c.socket, errors.Unwrap(err))
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return nil, errors.New(e.Error)
	}
	return nil, fmt.Errorf("admin API answered %s: %s", resp.Status, ctlOneLine(string(data)))
}

// call sends a request and returns the whole 2xx body.
func (c *ctl) call(method, u string, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ctlTimeout)
	defer cancel()
	resp, err := c.do(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return data, nil
}

// callJSON sends a request; with --json it prints the answer unchanged and
// returns printed=true, else it decodes the answer into out.
func (c *ctl) callJSON(method, u string, body, out any) (printed bool, err error) {
	data, err := c.call(method, u, body)
	if err != nil {
		return false, err
	}
	if c.json {
		_, err := c.stdout.Write(data)
		return true, err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return false, fmt.Errorf("decoding the answer: %w", err)
	}
	return false, nil
}
