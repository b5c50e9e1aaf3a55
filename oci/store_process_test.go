package oci_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/gadgetry/gadgetry/oci"
	"github.com/gadgetry/gadgetry/oci/ocitest"
)

// storeChildEnv makes the test binary act as one of several processes sharing a store.
const storeChildEnv = "GADGETRY_STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(storeChildEnv); role != "" {
		if err := storeChild(role, os.Getenv("GADGETRY_STORE_TEST_DIR")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// storeChild is either "gc" (tags and removes a scratch image over and over, collecting
// garbage each time) or a number N (copies five images tagged localhost/pN/iM into the store).
func storeChild(role, dir string) error {
	ctx := context.Background()
	s, err := oci.OpenStore(dir)
	if err != nil {
		return err
	}
	src, err := oci.OpenStore(dir + "-src-" + role)
	if err != nil {
		return err
	}
	defer os.RemoveAll(src.Root())
	if role == "gc" {
		for i := range 10 {
			ref := "localhost/scratch:" + strconv.Itoa(i)
			if _, err := ocitest.Push(ctx, src, ref, ocitest.Simple("scratch"+strconv.Itoa(i))); err != nil {
				return err
			}
			if _, err := oci.Copy(ctx, src, ref, s, ""); err != nil {
				return err
			}
			if _, err := s.Remove(ctx, ref); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range 5 {
		ref := fmt.Sprintf("localhost/p%s/i%d:v1", role, i)
		// Images of different processes share blobs (same names), so they race on the same files.
		if _, err := ocitest.Push(ctx, src, ref, ocitest.Simple("shared"+strconv.Itoa(i))); err != nil {
			return err
		}
		if _, err := oci.Copy(ctx, src, ref, s, ""); err != nil {
			return err
		}
	}
	return nil
}

// Several processes copy into one store while another collects garbage: no tag is lost and
// every tagged image stays complete.
func TestStoreConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir() + "/store"
	var cmds []*exec.Cmd
	for _, role := range []string{"1", "2", "3", "4", "gc"} {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), storeChildEnv+"="+role, "GADGETRY_STORE_TEST_DIR="+dir)
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	s, err := oci.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 20 {
		t.Fatalf("%d tags, want 20: %v", len(es), es)
	}
	for _, e := range es {
		if _, err := oci.Load(ctx, s, e.Ref, "arm64"); err != nil {
			t.Fatalf("%s incomplete: %v", e.Ref, err)
		}
	}
	if removed, err := s.GC(ctx); err != nil || len(removed) != 0 {
		t.Fatalf("garbage left behind: %v, %v", removed, err)
	}
}
