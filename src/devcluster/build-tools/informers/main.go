// A client-go program for the e2e compatibility suite: shared informers, as controllers, operators and
// dashboards use them, listing and watching through kubegate as a tenant. It prints what the informers
// hold once synced, creates a ConfigMap, and prints the event its informer delivers, as one JSON
// document. Not part of kubegate.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

type report struct {
	ContentType string   `json:"contentType"`
	Namespaces  []string `json:"namespaces"`
	ConfigMaps  []string `json:"configMaps"`
	Pods        []string `json:"pods"`
	Added       string   `json:"added"`
}

func names(store cache.Store) []string {
	out := []string{}
	for _, key := range store.ListKeys() {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the user")
	protobuf := flag.Bool("protobuf", false, "speak application/vnd.kubernetes.protobuf, as client-go's generated clients can")
	namespace := flag.String("namespace", "", "namespace of the ConfigMap informer and of the ConfigMap created")
	create := flag.String("create", "", "name of the ConfigMap to create once synced")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for syncs and the event")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	r := report{ContentType: "application/json"}
	if *protobuf {
		config.ContentType = "application/vnd.kubernetes.protobuf"
		config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		r.ContentType = config.ContentType
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	all := informers.NewSharedInformerFactory(client, 0)
	nsInformer := all.Core().V1().Namespaces().Informer()
	podInformer := all.Core().V1().Pods().Informer()
	inNamespace := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(*namespace))
	cmInformer := inNamespace.Core().V1().ConfigMaps().Informer()
	added := make(chan string, 16)
	if _, err := cmInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				added <- cm.Name
			}
		},
	}); err != nil {
		fail(err)
	}
	all.Start(ctx.Done())
	inNamespace.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nsInformer.HasSynced, podInformer.HasSynced, cmInformer.HasSynced) {
		fail(fmt.Errorf("informers did not sync within %s", *timeout))
	}
	r.Namespaces = names(nsInformer.GetStore())
	r.Pods = names(podInformer.GetStore())
	r.ConfigMaps = names(cmInformer.GetStore())
	if *create != "" {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: *create}, Data: map[string]string{"from": "client-go"}}
		if _, err := client.CoreV1().ConfigMaps(*namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			fail(err)
		}
		for r.Added == "" {
			select {
			case name := <-added:
				if name == *create {
					r.Added = name
				}
			case <-ctx.Done():
				fail(fmt.Errorf("no ADDED event for %s within %s", *create, *timeout))
			}
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
