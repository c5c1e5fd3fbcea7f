// Package compose is the apt-ostree pipeline: treefile -> apt indexes ->
// resolved set -> fetched .debs -> assembled root -> OSTree/bootc layout ->
// commit. It only joins the other packages; format and layout rules live in
// them, and the CLI calls one function of this package per command.
package compose
