package receiver_test

import (
	"google.golang.org/grpc/mem"
)

// rawBytes and rawClientCodec let a test send bytes that are not a valid
// message over gRPC.
type rawBytes []byte

type rawClientCodec struct{}

func (rawClientCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*rawBytes))}, nil
}

func (rawClientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*rawBytes) = data.Materialize()
	return nil
}

func (rawClientCodec) Name() string { return "proto" }
