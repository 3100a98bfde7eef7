package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOptionsFromFlags(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "issuer-ns")
	tests := map[string]struct {
		args    []string
		check   func(t *testing.T, o *Options)
		wantErr string
	}{
		"defaults": {
			check: func(t *testing.T, o *Options) {
				if o.Issuer.ClusterResourceNamespace != "issuer-ns" || o.LeaderElectionNamespace != "issuer-ns" {
					t.Errorf("namespaces = %q, %q; want the pod's", o.Issuer.ClusterResourceNamespace, o.LeaderElectionNamespace)
				}
				if !slices.Equal(o.Issuer.SecretNamespaces(), []string{"issuer-ns"}) {
					t.Errorf("secret namespaces = %v, want only the cluster resource namespace", o.Issuer.SecretNamespaces())
				}
				if !o.EnableIssuer || !o.EnableCABundleSync || o.CABundleSync.Namespace != "kube-system" || o.QPS != 0 || o.ProfilerAddress != "" {
					t.Errorf("options = %+v", o)
				}
				if o.LeaseDuration != 60*time.Second || o.RenewDeadline != 40*time.Second || o.RetryPeriod != 15*time.Second {
					t.Errorf("leader election = %s, %s, %s; want cert-manager's 60s, 40s, 15s", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
				}
			},
		},
		"every flag": {
			args: []string{"--leader-elect", "--kube-api-qps=7.5", "--kube-api-burst=9", "--cluster-resource-namespace=cas",
				"--ca-secret-namespaces=team-a, team-b", "--max-retry-duration=1m", "--workers=8", "--antrea-namespace=antrea",
				"--antrea-secret-name=tls", "--antrea-ca-configmap=ca", "--antrea-target-selector=app=antrea",
				"--profiler-address=localhost:6060", "--leader-election-lease-duration=15s", "--leader-election-renew-deadline=10s",
				"--leader-election-retry-period=2s"},
			check: func(t *testing.T, o *Options) {
				if !o.LeaderElect || o.QPS != 7.5 || o.Burst != 9 || o.Issuer.Workers != 8 || o.Issuer.MaxRetryDuration != time.Minute {
					t.Errorf("options = %+v", o)
				}
				if o.LeaseDuration != 15*time.Second || o.RenewDeadline != 10*time.Second || o.RetryPeriod != 2*time.Second {
					t.Errorf("leader election = %s, %s, %s", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
				}
				if o.ProfilerAddress != "localhost:6060" {
					t.Errorf("profiler address = %q", o.ProfilerAddress)
				}
				if !slices.Equal(o.Issuer.SecretNamespaces(), []string{"cas", "team-a", "team-b"}) {
					t.Errorf("secret namespaces = %v", o.Issuer.SecretNamespaces())
				}
				if o.CABundleSync.Namespace != "antrea" || o.CABundleSync.SecretName != "tls" || o.CABundleSync.ConfigMapName != "ca" {
					t.Errorf("CA bundle sync = %+v", o.CABundleSync)
				}
			},
		},
		"nothing enabled":     {args: []string{"--enable-issuer=false", "--enable-ca-bundle-sync=false"}, wantErr: "nothing to run"},
		"negative QPS":        {args: []string{"--kube-api-qps=-1"}, wantErr: "must not be negative"},
		"NaN QPS":             {args: []string{"--kube-api-qps=NaN"}, wantErr: "must not be negative"},
		"negative burst":      {args: []string{"--kube-api-burst=-5"}, wantErr: "must not be negative"},
		"bad Antrea selector": {args: []string{"--antrea-target-selector=!!"}, wantErr: "selector"},
		"no retry duration":   {args: []string{"--max-retry-duration=0s"}, wantErr: "retry duration"},
		"renew deadline not shorter than the lease": {
			args:    []string{"--leader-elect", "--leader-election-lease-duration=30s", "--leader-election-renew-deadline=30s"},
			wantErr: "--leader-election-renew-deadline (30s) must be shorter than --leader-election-lease-duration (30s)",
		},
		"no retry before the renew deadline": {
			args:    []string{"--leader-elect", "--leader-election-retry-period=35s"},
			wantErr: "must be longer than 1.2 × --leader-election-retry-period (35s)",
		},
		"zero retry period": {args: []string{"--leader-elect", "--leader-election-retry-period=0s"}, wantErr: "must be positive"},
		"timings unused without leader election": {
			args:  []string{"--leader-elect=false", "--leader-election-retry-period=0s"},
			check: func(t *testing.T, o *Options) {},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o := newOptions(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestClientRateLimit(t *testing.T) {
	tests := []struct {
		qps       float32
		burst     int
		wantQPS   float32
		wantBurst int
	}{
		{qps: 0, burst: 0, wantQPS: -1, wantBurst: 0},   // no client-side limit
		{qps: 0, burst: 100, wantQPS: -1, wantBurst: 0}, // a burst alone limits nothing
		{qps: 50, burst: 100, wantQPS: 50, wantBurst: 100},
		{qps: 50, burst: 0, wantQPS: 50, wantBurst: 100},
		{qps: 0.2, burst: 0, wantQPS: 0.2, wantBurst: 1},
	}
	for _, tc := range tests {
		o := &Options{QPS: tc.qps, Burst: tc.burst}
		if q, b := o.clientRateLimit(); q != tc.wantQPS || b != tc.wantBurst {
			t.Errorf("QPS %g burst %d: got %g, %d; want %g, %d", tc.qps, tc.burst, q, b, tc.wantQPS, tc.wantBurst)
		}
	}
}
