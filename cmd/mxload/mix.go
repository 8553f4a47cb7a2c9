package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the sort of message in the mix.
type Kind int

const (
	KindNew Kind = iota
	KindReply
	KindMerge
	numKinds
)

var kindNames = [numKinds]string{"new", "reply", "merge"}

func (k Kind) String() string { return kindNames[k] }

// Mix holds the weights of each kind.
type Mix [numKinds]int

// ParseMix reads "new=70,reply=20,merge=10"; kinds left out weigh 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("%q: want kind=weight", part)
		}
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 {
			return m, fmt.Errorf("%q: weight must be a number >= 0", part)
		}
		k := -1
		for i, n := range kindNames {
			if n == strings.TrimSpace(name) {
				k = i
			}
		}
		if k < 0 {
			return m, fmt.Errorf("%q: kind must be new, reply or merge", part)
		}
		m[k] = w
		total += w
	}
	if total == 0 {
		return m, fmt.Errorf("%q: weights add up to 0", s)
	}
	return m, nil
}

// pick maps r in [0, total) to a kind.
func (m Mix) pick(r int) Kind {
	for k, w := range m {
		if r < w {
			return Kind(k)
		}
		r -= w
	}
	return KindNew
}

func (m Mix) total() int { return m[0] + m[1] + m[2] }
