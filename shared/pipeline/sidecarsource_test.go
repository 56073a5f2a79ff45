package pipeline

import "testing"

func TestSidecarSource(t *testing.T) {
	tests := []struct {
		name, object, sidecar, want string
	}{
		{"uploaded through the API", "uploads/20261204-210000-0a1b2c3d/dates.csv", "uploads/20261204-210000-0a1b2c3d/dates.yaml", "the config uploaded with dates.csv"},
		{"put in the bucket", "team/dates.csv", "team/dates.yaml", "team/dates.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sidecarSource(tc.object, tc.sidecar); got != tc.want {
				t.Errorf("sidecarSource(%q) = %q, want %q", tc.object, got, tc.want)
			}
		})
	}
}
