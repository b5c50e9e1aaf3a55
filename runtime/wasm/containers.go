package wasm

import (
	"sync"

	"github.com/gadgetry/gadgetry/runtime/datasource"
)

// ContainersDataSource is the name of the data source of container events a guest can
// subscribe to, as on Inspektor Gadget (IG's traceloop guest starts a per-container recorder
// for each container it is told about).
const ContainersDataSource = "containers"

// The fields of the containers data source, as IG's describe them: the event's type
// ("CREATED" or "DELETED"), the container's id, cgroup v2 id, mount namespace id, name and OCI
// configuration.
const (
	ContainerEventCreated = "CREATED"
	ContainerEventDeleted = "DELETED"
)

// Container is a container as the containers data source describes it.
type Container struct {
	// ID is the runtime's container id.
	ID string
	// Name is the container's name (the Kubernetes container name, the engine's name, or
	// the id).
	Name string
	// MntNS is the inode number of the container's mount namespace.
	MntNS uint64
	// CgroupID is the container's cgroup v2 id (0 when unknown).
	CgroupID uint64
	// Config is the container's OCI runtime configuration (JSON) when known, else empty.
	Config string
}

// Containers is the run's source of the containers data source.
type Containers interface {
	// WatchContainers returns the containers the run selects now and, atomically with that,
	// calls fn for every later change: added true when a container starts or becomes
	// selected (it may be called again for a container already added), false when it goes
	// away. Calls are made one at a time until cancel is called; one under way may end after
	// cancel returns.
	WatchContainers(fn func(c Container, added bool)) (current []Container, cancel func())
}

// containerFeed is an instance's containers data source and what it told the guest.
type containerFeed struct {
	ds                                          *datasource.DataSource
	eventType, id, cgroupID, mntnsID, name, cfg *datasource.Field

	mu      sync.Mutex // held while an event is delivered
	started bool
	stopped bool
	cancel  func()
	known   map[uint64]bool // mount namespaces announced as created
}

// containersSource returns the instance's containers data source, made on first use; nil
// when the run has no container source (Env.Containers).
func (i *Instance) containersSource() *datasource.DataSource {
	if i.env.Containers == nil {
		return nil
	}
	if i.cfeed != nil {
		return i.cfeed.ds
	}
	ds := datasource.New(ContainersDataSource, datasource.TypeSingle, 0)
	f := &containerFeed{ds: ds, known: map[uint64]bool{}}
	for _, x := range []struct {
		p    **datasource.Field
		name string
		kind datasource.Kind
	}{
		{&f.eventType, "event_type", datasource.KindString},
		{&f.id, "container_id", datasource.KindString},
		{&f.cgroupID, "cgroup_id", datasource.KindUint64},
		{&f.mntnsID, "mntns_id", datasource.KindUint64},
		{&f.name, "name", datasource.KindString},
		{&f.cfg, "container_config", datasource.KindString},
	} {
		fl, err := ds.AddField(x.name, x.kind)
		if err != nil {
			panic("wasm: containers data source: " + err.Error()) // fixed names: cannot happen
		}
		*x.p = fl
	}
	i.cfeed = f
	return ds
}

// startContainers starts the containers data source's events once gadgetStart returned: the
// containers the run selects now, as created, then the changes, until stopContainers. It
// does nothing when the guest did not subscribe to it.
func (i *Instance) startContainers() {
	f := i.feed()
	if f == nil || !f.ds.Subscribed() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started || f.stopped {
		return
	}
	f.started = true
	current, cancel := i.env.Containers.WatchContainers(func(c Container, added bool) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.stopped {
			i.containerEvent(c, added)
		}
	})
	f.cancel = cancel
	for _, c := range current {
		i.containerEvent(c, true)
	}
}

// feed returns the containers data source's feed, nil when the guest never asked for it.
func (i *Instance) feed() *containerFeed {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.cfeed
}

// containerEvent emits one event of the containers data source; f.mu is held. A container
// is announced as created once, and as deleted only after it was created.
func (i *Instance) containerEvent(c Container, added bool) {
	f := i.cfeed
	if f.known[c.MntNS] == added {
		return
	}
	typ := ContainerEventDeleted
	if added {
		typ = ContainerEventCreated
		f.known[c.MntNS] = true
	} else {
		delete(f.known, c.MntNS)
	}
	d := f.ds.NewData()
	_ = f.eventType.SetString(d, typ)
	_ = f.id.SetString(d, c.ID)
	_ = f.cgroupID.SetUint(d, c.CgroupID)
	_ = f.mntnsID.SetUint(d, c.MntNS)
	_ = f.name.SetString(d, c.Name)
	_ = f.cfg.SetString(d, c.Config)
	if _, err := f.ds.Emit(d); err != nil {
		i.log.Warn("the guest's containers callback failed", "container", c.Name, "event", typ, "reason", err)
	}
}

// stopContainers ends the containers data source's events (before gadgetStop, as IG does,
// and at Close); it waits for an event under way.
func (i *Instance) stopContainers() {
	f := i.feed()
	if f == nil {
		return
	}
	f.mu.Lock()
	f.stopped = true
	cancel := f.cancel
	f.cancel = nil
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
