package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gadgetry/gadgetry/oci"
)

// trustFlags say which keys an image must be signed by: --public-keys, else the publicKeys of
// the configuration file; --verify-image=false turns verification off.
type trustFlags struct {
	publicKeys []string
	verify     bool
}

// bindTrustFlags defines --public-keys and --verify-image on fs.
func bindTrustFlags(fs *pflag.FlagSet) *trustFlags {
	f := &trustFlags{}
	fs.StringSliceVar(&f.publicKeys, "public-keys", nil, "trusted public keys (PEM files such as cosign.pub; repeatable or comma-separated): an image from a registry or the local store must carry a signature one of them verifies (default $"+envPublicKeys+", else publicKeys of the config file $GADGETRY_CONFIG, else "+oci.DefaultConfigFile()+")")
	fs.BoolVar(&f.verify, "verify-image", true, "verify the image's signature against the trusted keys before using it; false uses it unverified, with a warning")
	return f
}

// trust is what the flags and the configuration file decide.
type trust struct {
	// keys are the trusted keys; empty when verification is off or none are configured.
	keys []*oci.PublicKey
	// off is true with --verify-image=false.
	off bool
	// config is the configuration file consulted.
	config string
}

// load reads the trusted keys: those of --public-keys, else those of $GADGETRY_PUBLIC_KEYS,
// else those of the configuration file.
func (f *trustFlags) load() (*trust, error) {
	t := &trust{off: !f.verify, config: oci.DefaultConfigFile()}
	if t.off {
		return t, nil
	}
	paths := f.publicKeys
	if len(paths) == 0 {
		paths = splitList(os.Getenv(envPublicKeys))
	}
	if len(paths) == 0 {
		c, err := oci.LoadConfig(t.config)
		if err != nil {
			return nil, err
		}
		paths = c.PublicKeys
	}
	keys, err := oci.LoadPublicKeys(paths)
	if err != nil {
		return nil, err
	}
	t.keys = keys
	return t, nil
}

// howToTrust says where trusted keys are configured.
func (t *trust) howToTrust() string {
	return "pass --public-keys KEY.pub, or list the keys under publicKeys in " + t.config
}

// warnUnverified prints, once, that the image ref (not a built-in gadget) is used without
// its signature being verified, and why: with --verify-image=false always; for want of
// trusted keys when the image was just fetched from its registry (pulled): an image already in
// the store was warned about when it was pulled, or was built here.
func (t *trust) warnUnverified(w io.Writer, ref string, pulled bool) {
	switch {
	case t.off:
		fmt.Fprintf(w, "warning: %s is used unverified: signature verification is off (--verify-image=false)\n", ref)
	case len(t.keys) == 0 && pulled:
		fmt.Fprintf(w, "warning: %s is not verified: no trusted keys are configured, so whoever can push to its registry decides what runs; to require a signature, %s\n", ref, t.howToTrust())
	}
}

func newImageVerifyCmd(f *imageFlags) *cobra.Command {
	var remote bool
	var tf *trustFlags
	cmd := &cobra.Command{
		Use:   "verify REF",
		Short: "Check that an image carries a signature a trusted key verifies (cosign's format)",
		Long: `Check that an image carries a signature, in cosign's format, that one of the trusted keys
(--public-keys, else publicKeys of the config file) verifies for the digest REF names. The local
store's copy and its signatures are checked (no network: an imported image verifies offline);
--remote checks the image and signatures in its registry instead, as cosign verify --key does.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := f.parseRef(args[0])
			if err != nil {
				return err
			}
			if !remote && builtIn(ctx, r) != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is built in: trusted as part of the gadgetry binary\n", r.Name)
				return nil
			}
			tf.verify = true
			t, err := tf.load()
			if err != nil {
				return err
			}
			if len(t.keys) == 0 {
				return fmt.Errorf("verifying %s: no trusted keys to verify with; %s", r, t.howToTrust())
			}
			src, obj, err := f.source(r, remote)
			if err != nil {
				return err
			}
			root, err := src.Resolve(ctx, obj)
			if err != nil {
				err = oci.Explain(src, oci.NotFound(ctx, src, obj, err))
				if !remote && errors.Is(err, oci.ErrNotFound) {
					return fmt.Errorf("verifying %s: %w (to verify the image in its registry, add --remote)", r, err)
				}
				return fmt.Errorf("verifying %s: %w", r, err)
			}
			if !remote {
				// The signature covers the digest; the stored blobs must match it too.
				if err := oci.Validate(ctx, src, root); err != nil {
					return fmt.Errorf("verifying %s: %w", r, err)
				}
			}
			v, err := oci.VerifyImage(ctx, src, r, root.Digest, t.keys)
			if err != nil {
				return fmt.Errorf("verifying %s: %w", r, oci.Explain(src, err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "verified %s (%s): signed by trusted key %s\n", r, root.Digest, keyName(v))
			return nil
		},
	}
	cmd.Flags().BoolVar(&remote, "remote", false, "verify the image and signatures in its registry instead of the local store")
	tf = bindTrustFlags(cmd.Flags())
	_ = cmd.Flags().MarkHidden("verify-image") // verifying is the command's point
	return cmd
}

// keyName names the key that verified v: "ID (SOURCE)".
func keyName(v *oci.Verification) string {
	if v.KeySource == "" {
		return v.KeyID
	}
	return v.KeyID + " (" + v.KeySource + ")"
}

// signatureLines describes v for image inspect.
func signatureLines(v *oci.Verification, t *trust) [][2]string {
	var sig string
	if v.Signatures == 0 {
		sig = "not signed (no " + v.SignatureTag + ")"
	} else {
		sig = fmt.Sprintf("%d %s (%s)", v.Signatures, plural(v.Signatures, "signature", "signatures"), v.SignatureTag)
	}
	var ver string
	switch {
	case v.Verified:
		ver = "yes, by trusted key " + keyName(v)
	case v.TrustedKeys == 0:
		ver = "not checked: no trusted keys (" + t.howToTrust() + ")"
	default:
		ver = "no: " + v.Problem
	}
	return [][2]string{{"Signatures", sig}, {"Verified", ver}}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
