package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// shutdownGrace bounds how long Close waits for requests in flight (a
// backup of a large store may be one of them).
const shutdownGrace = 10 * time.Second

// Listen serves the API on a Unix socket at path with file mode mode,
// creating missing parent folders. A socket file left by a daemon that is
// gone is removed; one a running daemon answers on is an error. Requests
// are served in the background until Close.
func (s *Server) Listen(path string, mode os.FileMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return fmt.Errorf("admin: already listening on %s", s.path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("admin: create folder for socket %s: %w", path, err)
	}
	if err := removeStale(path); err != nil {
		return err
	}
	// The socket is created owner-only (umask 0177 for the one call), so
	// no one can connect in the moment before the configured mode is set.
	// The umask is process-wide: umaskMu keeps two Listens of one process
	// (tests start several daemons at once) from restoring each other's.
	umaskMu.Lock()
	oldMask := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(oldMask)
	umaskMu.Unlock()
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return fmt.Errorf("admin: chmod socket %s to %o: %w", path, mode, err)
	}
	s.srv = &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.ln, s.path, s.done = ln, path, make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin: serving stopped", "socket", path, "err", err)
		}
	}(s.srv, s.done)
	s.log.Info("admin socket listening", "socket", path, "mode", fmt.Sprintf("%04o", mode))
	return nil
}

// removeStale removes a socket file nobody answers on. A live socket and a
// file that is not a socket are left alone and reported.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin: socket %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("admin: %s exists and is not a socket; refusing to replace it", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("admin socket %s is in use by a running daemon", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin: remove stale socket %s: %w", path, err)
	}
	return nil
}

// Close stops accepting connections, waits up to shutdownGrace for
// requests in flight, and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("admin: shutdown: %w", err), s.srv.Close())
	}
	<-s.done
	if rmErr := os.Remove(s.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("admin: remove socket: %w", rmErr))
	}
	s.srv, s.ln = nil, nil
	return err
}

// umaskMu serializes the umask change around the socket's creation.
var umaskMu sync.Mutex
