package runtime

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"
)

// Alternative programs: gadget.yaml's `programs.<p>.alternative: <param>=<value>` makes p one
// way among others of doing one thing (block_exec enforces with an lsm program, or else with a
// tracepoint that kills), chosen by the parameter <param>. For each such parameter, before the
// collection is loaded:
//
//   - when the parameter's value is one the alternatives name, those programs run and the others
//     do not; a program the kernel cannot run fails the run (the user asked for it);
//   - otherwise (a value such as "auto"), the values the alternatives name are tried in the order
//     of the parameter's possibleValues, and the first whose programs the kernel can all run is
//     chosen. Each program is probed once per Runtime (probe.go), the probe the load itself uses.
//
// Either way the run says what it chose, and why, in a warning before anything is attached, and
// Summary.Choices records it.

// choice is the set of alternative programs chosen by one parameter.
type choice struct {
	param  string                // the parameter's key
	values []string              // the values programs name, best first (possibleValues order)
	progs  map[string][]*Program // programs by value
}

// findChoices groups the alternative programs by parameter and checks gadget.yaml's part: the
// parameter exists and lists every alternative's value in possibleValues (the preference order).
func (g *Gadget) findChoices() error {
	byParam := map[string]*choice{}
	for _, p := range g.Programs {
		a := p.Alternative
		if a == nil {
			continue
		}
		where := fmt.Sprintf("gadget %s: gadget.yaml programs.%s.alternative %s", g.Name, p.Name, a)
		param := g.Param(a.Param)
		if param == nil {
			return fmt.Errorf("%s names parameter %q, which the gadget does not have", where, a.Param)
		}
		if !slices.Contains(param.PossibleValues, a.Value) {
			return fmt.Errorf("%s: %q is not among the possibleValues of parameter %s (%s); list every alternative there, best first",
				where, a.Value, a.Param, strings.Join(param.PossibleValues, ", "))
		}
		if p.Optional {
			return fmt.Errorf("%s: an alternative cannot be optional (the run chooses one the kernel can run); remove optional", where)
		}
		c := byParam[a.Param]
		if c == nil {
			c = &choice{param: a.Param, progs: map[string][]*Program{}}
			byParam[a.Param] = c
		}
		c.progs[a.Value] = append(c.progs[a.Value], p)
	}
	for key, c := range byParam {
		for _, v := range g.Param(key).PossibleValues {
			if _, ok := c.progs[v]; ok {
				c.values = append(c.values, v)
			}
		}
		g.choices = append(g.choices, c)
	}
	sort.Slice(g.choices, func(i, j int) bool { return g.choices[i].param < g.choices[j].param })
	return nil
}

// choose decides, for each choice of the gadget, which value's programs run (Run.enabled reads
// it). spec is the run's copy of the collection, with the params applied.
func (r *Run) choose(spec *ebpf.CollectionSpec) error {
	for _, c := range r.g.choices {
		v, _ := r.ParamValue(c.param)
		if _, named := c.progs[v]; named {
			if err := r.probeAlternative(c, v, spec); err != nil {
				return fmt.Errorf("gadget %s: --%s=%s cannot run on this kernel: %w; leave --%s at its default to use the best this kernel offers",
					r.g.Name, c.param, v, err, c.param)
			}
			r.setChoice(c.param, v, fmt.Sprintf("gadget %s: %s %s: %s, as --%s=%s asks", r.g.Name, c.param, v, runs(c.progs[v]), c.param, v))
			continue
		}
		var passed []string
		for _, cand := range c.values {
			err := r.probeAlternative(c, cand, spec)
			if err != nil {
				passed = append(passed, fmt.Sprintf("%s is unavailable: %v", cand, err))
				continue
			}
			msg := fmt.Sprintf("gadget %s: %s %s: %s", r.g.Name, c.param, cand, runs(c.progs[cand]))
			if len(passed) == 0 {
				msg += fmt.Sprintf(" (the first of %s this kernel can run)", strings.Join(c.values, ", "))
			} else {
				msg += "; " + strings.Join(passed, "; ")
			}
			r.setChoice(c.param, cand, msg)
			break
		}
		if r.choices()[c.param] == "" {
			return fmt.Errorf("gadget %s: --%s=%s: this kernel can run none of %s: %s",
				r.g.Name, c.param, v, strings.Join(c.values, ", "), strings.Join(passed, "; "))
		}
	}
	return nil
}

// probeAlternative tells whether the kernel can run every program of value v.
func (r *Run) probeAlternative(c *choice, v string, spec *ebpf.CollectionSpec) error {
	for _, p := range c.progs[v] {
		ps := spec.Programs[p.Name]
		if ps == nil {
			continue
		}
		ps = ps.Copy()
		if p.Kind.NeedsTargetAtLoad() {
			ps.AttachTo = r.target(p)
		}
		if err := r.rt.probeLoad(p.Kind, ps); err != nil {
			return fmt.Errorf("program %s (%s) needs %s: %v", p.Name, p.Section, p.Kind.FeatureOf(r.target(p)), rootCause(err))
		}
	}
	return nil
}

func (r *Run) setChoice(param, value, msg string) {
	r.mu.Lock()
	if r.summary.Choices == nil {
		r.summary.Choices = map[string]string{}
	}
	r.summary.Choices[param] = value
	r.mu.Unlock()
	r.rt.log.Warn(msg)
}

func (r *Run) choices() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summary.Choices
}

// chosen reports whether p runs: it is no alternative, or the run chose its value.
func (r *Run) chosen(p *Program) bool {
	a := p.Alternative
	return a == nil || r.choices()[a.Param] == a.Value
}

// runs says which programs a choice runs: "program block_exec_kill runs".
func runs(progs []*Program) string {
	if len(progs) == 1 {
		return "program " + progs[0].Name + " runs"
	}
	names := make([]string, len(progs))
	for i, p := range progs {
		names[i] = p.Name
	}
	return "programs " + strings.Join(names, ", ") + " run"
}
