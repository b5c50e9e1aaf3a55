package main

import "github.com/spf13/cobra"

func newImageCmd() *cobra.Command {
	return &cobra.Command{Use: "image", Short: "(not implemented yet)"}
}
