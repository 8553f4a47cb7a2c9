package config

import (
	"fmt"
	"strings"
)

// ValidationError is the error of Load, Parse and Validate: every problem
// found, in config order, each "key.path: what is wrong", e.g.
//
//	tenants[0].channels[1].merge.within: invalid duration "4x"
//
// Load and Parse return no other error type; a file that cannot be read
// or is not YAML is one problem without a key path. Decoding problems
// (unknown keys, wrong types, unparsable values) come first, then the
// findings of Validate; the order is fixed, so tests can compare exactly.
// A key that failed to decode is not reported again by Validate.
type ValidationError struct {
	File     string // the file loaded, if any
	Problems []string
}

// Error joins the problems with "; ", prefixed by the file name when known.
func (e *ValidationError) Error() string {
	s := strings.Join(e.Problems, "; ")
	if e.File != "" {
		return e.File + ": " + s
	}
	return s
}

// problem is one finding before it is formatted, so decode failures can
// suppress follow-up findings about the same key.
type problem struct {
	path string
	msg  string
}

func (p problem) String() string {
	if p.path == "" {
		return p.msg
	}
	return p.path + ": " + p.msg
}

type problems []problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// without drops the problems about keys under any of the given paths.
func (ps problems) without(paths []string) problems {
	if len(paths) == 0 {
		return ps
	}
	var out problems
next:
	for _, p := range ps {
		for _, q := range paths {
			if under(p.path, q) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// under reports whether key path p is q or below it.
func under(p, q string) bool {
	if q == "" || !strings.HasPrefix(p, q) {
		return q == ""
	}
	rest := p[len(q):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

func (ps problems) err(file string) error {
	if len(ps) == 0 {
		return nil
	}
	e := &ValidationError{File: file, Problems: make([]string, len(ps))}
	for i, p := range ps {
		e.Problems[i] = p.String()
	}
	return e
}
