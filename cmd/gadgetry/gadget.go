package main

import "github.com/spf13/cobra"

func newGadgetCmd() *cobra.Command {
	return &cobra.Command{Use: "gadget", Short: "(not implemented yet)"}
}
