package main

import "github.com/spf13/cobra"

func newComposeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compose",
		Short: "Compose Debian trees, OSTree commits and images from a treefile",
	}
	cmd.AddCommand(newComposeCommitCmd(), newComposeTreeCmd(), newComposeRootfsCmd(), newComposeEncapsulateCmd(), newComposeImageCmd())
	return cmd
}
