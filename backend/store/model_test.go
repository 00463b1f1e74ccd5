package store_test

import (
	"testing"

	"github.com/loupe-dev/loupe/backend/store"
)

func TestParseTraceID(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"0102030405060708090a0b0c0d0e0f10", "0102030405060708090a0b0c0d0e0f10", false},
		{"abc", "00000000000000000000000000000abc", false},
		{"1f2e3d4c5b6a7988", "00000000000000001f2e3d4c5b6a7988", false},
		{"", "", true},
		{"xyz", "", true},
		{"0102030405060708090a0b0c0d0e0f1011", "", true},
	}
	for _, tc := range cases {
		id, err := store.ParseTraceID(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseTraceID(%q) err %v", tc.in, err)
			continue
		}
		if err == nil && id.String() != tc.want {
			t.Errorf("ParseTraceID(%q) = %s, want %s", tc.in, id, tc.want)
		}
	}
}

func TestValueAsString(t *testing.T) {
	cases := []struct {
		v    store.Value
		typ  store.ValueType
		want string
	}{
		{store.StrValue("x"), store.ValueStr, "x"},
		{store.IntValue(-3), store.ValueInt, "-3"},
		{store.DoubleValue(0.25), store.ValueDouble, "0.25"},
		{store.BoolValue(true), store.ValueBool, "true"},
		{store.BytesValue([]byte{0xca, 0xfe}), store.ValueBytes, "cafe"},
		{store.Value{}, store.ValueEmpty, ""},
		// One-byte strings equal to the bytes numeric values keep their
		// type in stay strings.
		{store.StrValue("\x01"), store.ValueStr, "\x01"},
		{store.StrValue("\x02"), store.ValueStr, "\x02"},
		{store.StrValue(string([]byte{3})), store.ValueStr, "\x03"},
		{store.BytesValue([]byte{2}), store.ValueBytes, "02"},
		{store.StrValue(""), store.ValueStr, ""},
		{store.BoolValue(false), store.ValueBool, "false"},
		{store.IntValue(0), store.ValueInt, "0"},
		{store.IntValue(2), store.ValueInt, "2"},
		{store.DoubleValue(-1.5e300), store.ValueDouble, "-1.5e+300"},
	}
	for _, tc := range cases {
		if tc.v.Type() != tc.typ || tc.v.AsString() != tc.want {
			t.Errorf("%+v: type %v %q, want %v %q", tc.v, tc.v.Type(), tc.v.AsString(), tc.typ, tc.want)
		}
		if tc.typ != store.ValueStr && tc.typ != store.ValueBytes && tc.v.Str() != "" {
			t.Errorf("%+v: Str() = %q, want \"\" for a %v", tc.v, tc.v.Str(), tc.typ)
		}
	}
}
