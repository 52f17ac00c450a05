// The Go client's module. The polyglot check builds a copy of it with the code
// generated from proto/ beside main.go, under the module path that the contracts'
// go_package options name, so the client imports the stubs as a Go user would.
module larder.e2e/goclient

go 1.26.0

require (
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)
