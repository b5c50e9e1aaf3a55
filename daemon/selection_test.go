package daemon

import (
	"strings"
	"testing"
)

func TestSelectionMatch(t *testing.T) {
	web := &PodContainer{ID: "c1", Name: "main", Pod: "web-0", Namespace: "shop", Labels: map[string]string{"app": "web", "tier": "fe"}}
	db := &PodContainer{ID: "c2", Name: "pg", Pod: "db-0", Namespace: "shop", Labels: map[string]string{"app": "db"}}
	other := &PodContainer{ID: "c3", Name: "main", Pod: "web-0", Namespace: "staging", Labels: map[string]string{"app": "web"}}
	for _, c := range []struct {
		ns              []string
		all             bool
		pod, labels, cs string
		want            []*PodContainer
	}{
		{ns: []string{"shop"}, want: []*PodContainer{web, db}},
		{all: true, want: []*PodContainer{web, db, other}},
		{ns: []string{"shop"}, pod: "web-0", want: []*PodContainer{web}},
		{all: true, pod: "web-0", want: []*PodContainer{web, other}},
		{all: true, labels: "app=web,tier=fe", want: []*PodContainer{web}},
		{all: true, labels: "app in (web,db),tier!=fe", want: []*PodContainer{db, other}},
		{all: true, cs: "pg", want: []*PodContainer{db}},
		{all: true, cs: "!pg", want: []*PodContainer{web, other}},
	} {
		sel, err := ParseSelection(c.ns, c.all, c.pod, c.labels, c.cs)
		if err != nil {
			t.Fatal(err)
		}
		for _, pc := range []*PodContainer{web, db, other} {
			want := false
			for _, w := range c.want {
				want = want || w == pc
			}
			if got := sel.Match(pc); got != want {
				t.Errorf("%s: Match(%s/%s %s) = %v, want %v", sel, pc.Namespace, pc.Pod, pc.Name, got, want)
			}
		}
	}
	if sel, _ := ParseSelection(nil, true, "", "", ""); sel.Match(nil) {
		t.Error("the host (no container) matched a selection")
	}
	if _, err := ParseSelection(nil, true, "", "app in (web", ""); err == nil || !strings.Contains(err.Error(), "-l") {
		t.Errorf("a bad label selector: %v", err)
	}
	if _, err := ParseSelection(nil, true, "", "", "a,,b"); err == nil {
		t.Error("a bad -c list was accepted")
	}
}

func TestPodLabels(t *testing.T) {
	l := podLabels(map[string]string{"io.kubernetes.pod.name": "x", "io.kubernetes.pod.uid": "u", "io.kubernetes.pod.namespace": "n", "b": "2", "a": "1"})
	if got := labelsText(l); got != "a=1,b=2" {
		t.Errorf("labels = %q, want the pod's own, sorted", got)
	}
}

func TestMetricsText(t *testing.T) {
	m := newMetrics()
	var b strings.Builder
	m.write(&b)
	for _, want := range []string{"# TYPE gadgetry_runs_active gauge\ngadgetry_runs_active 0\n", "gadgetry_runs_started_total 0\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
	if q := quote("a\"b\\c\nd"); q != `"a\"b\\c\nd"` {
		t.Errorf("quote = %s", q)
	}
}
