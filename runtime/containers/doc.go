// Package containers tells which container an event comes from, enriches events with it, and
// selects containers for the in-kernel mount-namespace filter.
//
// A Cache learns containers three ways: once at start by scanning /proc and the runtimes' state
// directories (runc state roots, containerd task bundles); while running through inotify on
// those directories; and lazily, the first time an event carries a mount namespace it does not
// know (the answer, positive or negative, is cached). Lookups by mount namespace id or cgroup id
// are then map reads: nothing touches /proc per event.
//
// Mount namespace ids are inode numbers, which the kernel reuses once a namespace is gone: a
// container id the cache has not seen in a namespace id it knows is a new container (the old
// one is removed, then the new one added), whatever the runtime's state still says of the old.
//
// The host is the mount namespace of the Gadgetry process itself (/proc/self/ns/mnt), never
// PID 1's, which may be unreadable.
//
// See docs/containers.md for the cgroup path forms recognised and the rule that picks the
// cgroup mount from /proc/self/mountinfo.
package containers
