package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gadgetry/gadgetry/runtime/attach"
	"github.com/gadgetry/gadgetry/runtime/containers"
)

// A uprobe fires for the file it was set on, so a container with its own copy of a library
// (its image's libc, libssl...) needs a uprobe of its own. With ContainerHooks, a run attaches
// each uprobe program to the selected containers' copies too: those running at attach time
// through attach.Options.Roots, and those that start later through UprobeLink.AddRoot, as the
// container cache reports them.

// uprobeRoots holds the selected containers' root directories and the run's uprobe links;
// under Run.rootsMu.
type uprobeRoots struct {
	roots  []string // /proc/<pid>/root of each container reported, in order
	links  []trackedUprobe
	follow bool // containers are followed: a library only they have is worth a uprobe
}

// trackedUprobe is a uprobe link of the run and its program's name, for warnings.
type trackedUprobe struct {
	link *attach.UprobeLink
	prog string
}

// isUprobe reports whether k attaches to a file's symbol (uprobe or uretprobe).
func isUprobe(k attach.Kind) bool { return k == attach.Uprobe || k == attach.Uretprobe }

// hasUprobes reports whether the gadget has a uprobe or uretprobe program.
func (g *Gadget) hasUprobes() bool {
	return slices.ContainsFunc(g.Programs, func(p *Program) bool { return isUprobe(p.Kind) })
}

// watchContainerRoots follows the containers sel selects, for the run's uprobes; the watch
// ends with the run.
func (r *Run) watchContainerRoots(cache *containers.Cache, sel containers.Selector) {
	if !r.g.hasUprobes() {
		return
	}
	r.rootsMu.Lock()
	r.uroots.follow = true
	r.rootsMu.Unlock()
	cur, cancel := cache.Watch(sel, func(ev containers.Event) {
		if ev.Type == containers.EventAdd {
			r.addContainerRoot(ev.Container)
		}
	})
	r.onClose = append(r.onClose, cancel)
	for _, ct := range cur {
		r.addContainerRoot(ct)
	}
}

// addContainerRoot records ct's root and attaches the uprobes already attached to it.
func (r *Run) addContainerRoot(ct *containers.Container) {
	if ct == nil || ct.Pid <= 0 {
		return
	}
	root := fmt.Sprintf("/proc/%d/root", ct.Pid)
	r.rootsMu.Lock()
	r.uroots.roots = append(r.uroots.roots, root)
	links := slices.Clone(r.uroots.links)
	r.rootsMu.Unlock()
	for _, u := range links {
		r.addRoot(u, root, ct.Name)
	}
}

// addRoot attaches u in root, and warns, naming the container (or its root), when it fails.
func (r *Run) addRoot(u trackedUprobe, root, name string) {
	if _, err := u.link.AddRoot(root); err != nil {
		if name == "" {
			name = root
		}
		r.rt.log.Warn(fmt.Sprintf("gadget %s: program %s not attached in container %s: %v", r.g.Name, u.prog, name, err))
	}
}

// containerRoots returns the roots reported so far, and whether containers are followed.
func (r *Run) containerRoots() ([]string, bool) {
	r.rootsMu.Lock()
	defer r.rootsMu.Unlock()
	return slices.Clone(r.uroots.roots), r.uroots.follow
}

// trackUprobe registers u, attached with the first n roots, and attaches it to the roots
// reported since.
func (r *Run) trackUprobe(name string, u *attach.UprobeLink, n int) {
	t := trackedUprobe{link: u, prog: name}
	r.rootsMu.Lock()
	r.uroots.links = append(r.uroots.links, t)
	later := slices.Clone(r.uroots.roots[n:])
	r.rootsMu.Unlock()
	for _, root := range later {
		r.addRoot(t, root, "")
	}
}

// missingUprobe is a uprobe program whose library or symbol the host lacks: left out (link
// nil), or kept for the containers the run follows (link, attached to their copies).
type missingUprobe struct {
	p    *Program
	err  *attach.MissingSymbolError
	link *attach.UprobeLink
}

// warnMissing warns of the uprobes left out, once per library: a gadget with a dozen uprobes
// on a library that is not installed gets one line, not a dozen.
func (r *Run) warnMissing(missing []missingUprobe) {
	type key struct {
		lib             string
		noLibrary, kept bool
	}
	groups := map[key][]missingUprobe{}
	var order []key
	for _, m := range missing {
		k := key{m.err.Library, m.err.NoLibrary, m.link != nil}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	for _, k := range order {
		g := groups[k]
		where, kept := "", ""
		if k.kept {
			files := 0
			for _, m := range g {
				files = max(files, m.link.Files())
			}
			where = " on the host"
			kept = fmt.Sprintf("; kept for the containers with their own copy (attached in %d now, and in those that start later)", files)
		}
		if len(g) == 1 {
			r.rt.log.Warn(fmt.Sprintf("gadget %s: program %s (%s) not attached%s: %v%s", r.g.Name, g[0].p.Name, g[0].p.Section, where, g[0].err, kept))
			continue
		}
		var syms []string
		for _, m := range g {
			syms = append(syms, m.err.Symbol)
		}
		slices.Sort(syms)
		syms = slices.Compact(syms)
		if k.noLibrary {
			r.rt.log.Warn(fmt.Sprintf("gadget %s: %d programs not attached%s: library %s is not on this system's library path (their symbols: %s)%s", r.g.Name, len(g), where, k.lib, strings.Join(syms, ", "), kept))
		} else {
			r.rt.log.Warn(fmt.Sprintf("gadget %s: %d programs not attached%s: %s has none of their symbols (%s)%s", r.g.Name, len(g), where, k.lib, strings.Join(syms, ", "), kept))
		}
	}
}
