package issuer_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"antrea.io/antrea-issuer/internal/logfilter"
	"antrea.io/antrea-issuer/internal/testenv"
	"antrea.io/antrea-issuer/issuer"
	"antrea.io/antrea-issuer/issuer/rotation"
)

const (
	clusterResourceNamespace = "antrea-issuer"
	teamNamespace            = "team-a"
	unwatchedNamespace       = "not-watched"
)

// env is the control plane shared by this package's tests; one issuer manager runs against it.
var env *testenv.Env

func TestMain(m *testing.M) {
	flag.Parse()
	if isFuzzWorker() {
		// A fuzz worker process only runs fuzz inputs, which need no control plane. Starting one
		// per worker takes seconds, and the fuzzing engine stops a worker that is slow to answer.
		os.Exit(m.Run())
	}
	os.Exit(runMain(m))
}

func isFuzzWorker() bool {
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

func runMain(m *testing.M) int {
	// As the binary logs: expected refusals are one info line, not error lines.
	ctrl.SetLogger(logfilter.New(zap.New(zap.UseDevMode(true), zap.Level(zapLevel()), zap.StacktraceLevel(zapcore.PanicLevel))))
	var err error
	env, err = testenv.New(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ns := range []string{clusterResourceNamespace, teamNamespace, unwatchedNamespace} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	stop, err := startManager(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return -2
	}
	return zapcore.ErrorLevel // keeps `go test` output readable
}

// issuerOptions are the options every manager in these tests uses.
func issuerOptions() issuer.Options {
	return issuer.Options{
		ClusterResourceNamespace: clusterResourceNamespace,
		CASecretNamespaces:       []string{"kube-system", teamNamespace},
		MaxRetryDuration:         time.Minute,
		Workers:                  2,
	}
}

// startManager runs the issuer controllers as the binary does (namespace-restricted Secret cache)
// until stop is called.
func startManager(ctx context.Context) (stop func(), err error) {
	opts := issuerOptions()
	byNS := map[string]cache.Config{opts.ClusterResourceNamespace: {}}
	for _, ns := range opts.LabelledSecretNamespaces() {
		byNS[ns] = cache.Config{LabelSelector: labels.SelectorFromSet(labels.Set{issuer.LabelCASecret: "true"})}
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:     env.Scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: {Namespaces: byNS}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	iss, err := issuer.New(mgr, opts)
	if err == nil {
		err = iss.SetupWithManager(ctx, mgr)
	}
	if err == nil {
		err = rotation.SetupWithManager(ctx, mgr, rotation.Options{
			ClusterResourceNamespace: opts.ClusterResourceNamespace, Workers: opts.Workers, CAStore: iss.CAStore()})
	}
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		<-done
	}, nil
}
