package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestDeliveryProxy(t *testing.T) {
	tests := []struct {
		name          string
		failFirst     int64 // the function fails its first failFirst calls
		duplicateRate float64
		redeliveries  int
		wantCode      int
		wantCalls     int64
		wantFailed    int64
	}{
		{"passes through", 0, 0, 0, http.StatusOK, 1, 0},
		{"failure goes back to the emulator without faults", 1, 0, 0, http.StatusInternalServerError, 1, 1},
		{"redelivered by the proxy under faults", 2, 0, 10, http.StatusOK, 3, 2},
		{"gives up after its redeliveries", 100, 0, 2, http.StatusInternalServerError, 3, 3},
		{"duplicate rate 1 delivers twice", 0, 1, 0, http.StatusOK, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n := calls.Add(1); n <= tt.failFirst {
					w.WriteHeader(http.StatusInternalServerError)
				}
			}))
			defer fn.Close()
			stats := &faultStats{}
			px := &deliveryProxy{name: "RunBatch", duplicateRate: tt.duplicateRate, redeliveries: tt.redeliveries, stats: stats}
			px.target.Store(&fn.URL)
			rec := httptest.NewRecorder()
			px.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(`{"message":{}}`)))
			if rec.Code != tt.wantCode || calls.Load() != tt.wantCalls || stats.failed.Load() != tt.wantFailed {
				t.Errorf("code %d, %d calls, %d failed; want %d, %d, %d", rec.Code, calls.Load(), stats.failed.Load(),
					tt.wantCode, tt.wantCalls, tt.wantFailed)
			}
		})
	}
}
