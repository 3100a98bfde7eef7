package antreasim

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"antrea.io/antrea-issuer/issuer/handover"
)

// Antrea's configuration: antrea-controller.conf in ConfigMap antrea-config, which antrea-controller
// reads when it starts (a running one keeps the mode it started with).
const (
	ConfigMapName = handover.DefaultConfigMapName
	ConfigKey     = handover.DefaultConfigKey
)

// WriteConfig writes antrea-controller.conf with selfSignedCert as Antrea's manifests carry it,
// as a user editing antrea-config does; it does not restart anything.
func WriteConfig(ctx context.Context, c client.Client, namespace string, selfSignedCert bool) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: ConfigMapName}}
	_, err := controllerutil.CreateOrUpdate(ctx, c, cm, func() error {
		cm.Labels = map[string]string{LabelApp: AppAntrea}
		cm.Data = map[string]string{ConfigKey: fmt.Sprintf(
			"# Indicates whether to use auto-generated self-signed TLS certificate.\n"+
				"# If false, a Secret named \"antrea-controller-tls\" must be provided with the following keys:\n"+
				"#   ca.crt: <CA certificate>\n#   tls.crt: <TLS certificate>\n#   tls.key: <TLS private key>\n"+
				"selfSignedCert: %t\n", selfSignedCert)}
		return nil
	})
	return err
}
