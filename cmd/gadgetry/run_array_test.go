package main

import "testing"

func TestYAMLList(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "--- []\n"},
		{"---\npid: 1\nproc:\n  comm: \"a\"\n---\npid: 2\nproc:\n  comm: \"b\"\n",
			"---\n- pid: 1\n  proc:\n    comm: \"a\"\n- pid: 2\n  proc:\n    comm: \"b\"\n"},
	} {
		if got := string(yamlList([]byte(tc.in))); got != tc.want {
			t.Errorf("yamlList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
