package admin_test

import (
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sobot/ticketmx/store/admin"
)

// unixClient talks HTTP to the socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

func TestListenModes(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o660} {
		st := openStore(t)
		path := filepath.Join(t.TempDir(), "run", "sub", "admin.sock")
		s := admin.New(st, admin.Hooks{}, nil)
		if err := s.Listen(path, mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != mode {
			t.Errorf("socket mode %v, want socket %o", fi.Mode(), mode)
		}
		resp, err := unixClient(path).Get("http://ticketmx/v1/stats")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "store_bytes") {
			t.Errorf("stats over the socket: %d %s", resp.StatusCode, body)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("socket file left after Close: %v", err)
		}
	}
}

func TestListenStaleAndLive(t *testing.T) {
	st := openStore(t)
	path := filepath.Join(t.TempDir(), "admin.sock")

	// A daemon that crashed leaves its socket file behind.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not there: %v", err)
	}
	first := admin.New(st, admin.Hooks{}, nil)
	if err := first.Listen(path, 0o600); err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer first.Close()

	second := admin.New(st, admin.Hooks{}, nil)
	err = second.Listen(path, 0o600)
	if err == nil || err.Error() != "admin socket "+path+" is in use by a running daemon" {
		t.Fatalf("second Listen: %v", err)
	}
	if _, err := unixClient(path).Get("http://ticketmx/v1/channels"); err != nil {
		t.Errorf("first server lost its socket: %v", err)
	}

	plain := filepath.Join(t.TempDir(), "not-a-socket")
	if err := os.WriteFile(plain, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := second.Listen(plain, 0o600); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	if data, _ := os.ReadFile(plain); string(data) != "data" {
		t.Errorf("regular file was touched")
	}
}
