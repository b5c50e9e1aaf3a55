// The WASM module of the block_exec gadget. gadgetInit parses the policy parameters (a policy
// that cannot match or contradicts itself fails the run before anything is loaded);
// gadgetPreStart checks the container selection; gadgetStart fills the kernel's rule maps and,
// last, the policy entry that turns enforcement on, before any program is attached. Every
// event then gets its rule, matched name, action and mechanism as text.
package main

import (
	"fmt"

	"github.com/gadgetry/gadgetry/gadgets/block_exec/go/policy"
	"github.com/gadgetry/gadgetry/wasmapi"
)

type gadget struct {
	pol *policy.Policy

	rule, reason, which, action, mechanism  wasmapi.Field // the kernel's numbers
	ruleText, matched, actionText, mechText wasmapi.Field // the text added
}

func (g *gadget) Init() error {
	var p policy.Params
	for _, q := range []struct {
		key string
		dst *string
	}{
		{"deny-paths", &p.DenyPaths}, {"allow-paths", &p.AllowPaths},
		{"deny-upper-layer", &p.DenyUpperLayer}, {"mode", &p.Mode}, {"host", &p.Host},
	} {
		v, err := wasmapi.GetParamValue(q.key)
		if err != nil {
			return err
		}
		*q.dst = v
	}
	var err error
	if g.pol, err = policy.Parse(p); err != nil {
		return err
	}

	ds, err := wasmapi.GetDataSource("block_exec")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *wasmapi.Field
	}{
		{"__rule", &g.rule}, {"__reason", &g.reason}, {"__which", &g.which},
		{"__action", &g.action}, {"__mechanism", &g.mechanism},
	} {
		if *f.dst, err = ds.GetField(f.name); err != nil {
			return fmt.Errorf("block_exec record field %s: %w", f.name, err)
		}
	}
	for _, f := range []struct {
		name string
		dst  *wasmapi.Field
	}{
		{"rule", &g.ruleText}, {"matched", &g.matched}, {"action", &g.actionText}, {"mechanism", &g.mechText},
	} {
		if *f.dst, err = ds.AddField(f.name, wasmapi.KindString); err != nil {
			return err
		}
	}
	return ds.Subscribe(g.onEvent, 0)
}

// PreStart runs after the container selection is set and before anything is loaded. A
// selection never includes the host, so the host's mount namespace (here: no namespace, 0) is
// discarded exactly when containers are selected.
func (g *gadget) PreStart() error {
	return g.pol.Scope(wasmapi.ShouldDiscardMntnsID(0))
}

// Start fills the rule maps, then the policy entry that enables enforcement: the programs are
// not attached yet, so the first exec they see meets the whole policy.
func (g *gadget) Start() error {
	for _, m := range []struct {
		name    string
		entries []policy.Entry
	}{
		{"bexec_paths", g.pol.PathEntries()},
		{"bexec_globs", g.pol.GlobEntries()},
		{"bexec_policy", []policy.Entry{{Key: []byte{0, 0, 0, 0}, Value: g.pol.PolicyValue()}}},
	} {
		if err := fill(m.name, m.entries); err != nil {
			return err
		}
	}
	return nil
}

func fill(name string, entries []policy.Entry) error {
	m, err := wasmapi.GetMap(name)
	if err != nil {
		return err
	}
	defer m.Release()
	for _, e := range entries {
		if err := m.Put(e.Key, e.Value); err != nil {
			return fmt.Errorf("filling %s: %w", name, err)
		}
	}
	return nil
}

func (g *gadget) onEvent(_ wasmapi.DataSource, d wasmapi.Data) error {
	rule, _ := g.rule.Uint32(d)
	reason, _ := g.reason.Uint8(d)
	which, _ := g.which.Uint8(d)
	action, _ := g.action.Uint8(d)
	mech, _ := g.mechanism.Uint8(d)
	ruleText, matched := g.pol.Describe(reason, which, rule)
	for _, s := range []struct {
		f wasmapi.Field
		v string
	}{
		{g.ruleText, ruleText}, {g.matched, matched},
		{g.actionText, policy.ActionName(action)}, {g.mechText, policy.MechanismName(mech)},
	} {
		if err := s.f.SetString(d, s.v); err != nil {
			return err
		}
	}
	return nil
}

func init() { wasmapi.Register(&gadget{}) }

func main() {}
