package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// NewPubSubClient returns a Pub/Sub client for project on the emulator at
// host, without credentials and regardless of $PUBSUB_EMULATOR_HOST.
func NewPubSubClient(ctx context.Context, host, project string) (*pubsub.Client, error) {
	c, err := pubsub.NewClient(ctx, project,
		option.WithEndpoint(host),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
	)
	if err != nil {
		return nil, fmt.Errorf("pubsub.NewClient(%s, %s): %w", host, project, err)
	}
	return c, nil
}

// Route is one topic and (optionally) its subscription.
type Route struct {
	// Topic is the topic id (or full name "projects/p/topics/t").
	Topic string
	// Subscription is the subscription id (or full name); empty creates the
	// topic only.
	Subscription string
	// PushEndpoint is the URL the emulator POSTs messages to; empty makes a
	// pull subscription (e.g. for BridgeUploads).
	PushEndpoint string
	// AckDeadline is how long a push endpoint may take before the message is
	// redelivered (10 s–600 s; 0 keeps the service default of 10 s).
	AckDeadline time.Duration
	// MaxDeliveryAttempts and DeadLetterTopic form the dead-letter policy;
	// both are needed for one. The dead-letter topic is created too.
	MaxDeliveryAttempts int
	DeadLetterTopic     string
	// MinBackoff and MaxBackoff form the retry policy (either non-zero
	// enables it; the service defaults are 10 s and 600 s).
	MinBackoff, MaxBackoff time.Duration
}

// SetupPubSub creates the topics and subscriptions of routes in project,
// idempotently: existing ones are kept, except that an existing push
// subscription is re-pointed at PushEndpoint (its port may differ from the
// last run's). Settings the emulator rejects are dropped with a log line,
// not an error: the emulator is a stand-in, not the deployment (Terraform
// owns the real retry and dead-letter settings).
func SetupPubSub(ctx context.Context, client *pubsub.Client, project string, routes []Route) error {
	for _, r := range routes {
		if r.Topic == "" {
			return errors.New("setup pubsub: route without a topic")
		}
		topic := topicName(project, r.Topic)
		if err := createTopic(ctx, client, topic); err != nil {
			return err
		}
		if r.Subscription == "" {
			continue
		}
		if err := createSubscription(ctx, client, project, topic, r); err != nil {
			return err
		}
	}
	return nil
}

func createSubscription(ctx context.Context, client *pubsub.Client, project, topic string, r Route) error {
	sub := &pubsubpb.Subscription{
		Name:               subscriptionName(project, r.Subscription),
		Topic:              topic,
		AckDeadlineSeconds: int32(r.AckDeadline / time.Second),
	}
	if r.PushEndpoint != "" {
		sub.PushConfig = &pubsubpb.PushConfig{PushEndpoint: r.PushEndpoint}
	}
	if r.MinBackoff > 0 || r.MaxBackoff > 0 {
		sub.RetryPolicy = &pubsubpb.RetryPolicy{}
		if r.MinBackoff > 0 {
			sub.RetryPolicy.MinimumBackoff = durationpb.New(r.MinBackoff)
		}
		if r.MaxBackoff > 0 {
			sub.RetryPolicy.MaximumBackoff = durationpb.New(r.MaxBackoff)
		}
	}
	switch {
	case r.DeadLetterTopic != "" && r.MaxDeliveryAttempts > 0:
		dlt := topicName(project, r.DeadLetterTopic)
		if err := createTopic(ctx, client, dlt); err != nil {
			return err
		}
		sub.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     dlt,
			MaxDeliveryAttempts: int32(r.MaxDeliveryAttempts),
		}
	case r.DeadLetterTopic != "" || r.MaxDeliveryAttempts > 0:
		return fmt.Errorf("setup pubsub: subscription %s: a dead-letter policy needs both DeadLetterTopic and MaxDeliveryAttempts", sub.Name)
	}

	for {
		_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, sub)
		switch status.Code(err) {
		case codes.OK:
			slog.Debug("localcloud: created subscription", "subscription", sub.Name, "push", r.PushEndpoint)
			return nil
		case codes.AlreadyExists:
			return repointSubscription(ctx, client, sub)
		case codes.InvalidArgument, codes.Unimplemented, codes.FailedPrecondition:
			// Retry without the optional settings, least essential first.
			if sub.DeadLetterPolicy != nil {
				slog.Warn("localcloud: the Pub/Sub emulator rejected the dead-letter policy; continuing without it",
					"subscription", sub.Name, "err", err)
				sub.DeadLetterPolicy = nil
				continue
			}
			if sub.RetryPolicy != nil {
				slog.Warn("localcloud: the Pub/Sub emulator rejected the retry policy; continuing without it",
					"subscription", sub.Name, "err", err)
				sub.RetryPolicy = nil
				continue
			}
		}
		return fmt.Errorf("setup pubsub: CreateSubscription(%s): %w", sub.Name, err)
	}
}

// repointSubscription brings an existing subscription's push endpoint in
// line with want; other settings of an existing subscription are left as
// they are (they cannot change its delivery target).
func repointSubscription(ctx context.Context, client *pubsub.Client, want *pubsubpb.Subscription) error {
	got, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: want.Name})
	if err != nil {
		return fmt.Errorf("setup pubsub: GetSubscription(%s): %w", want.Name, err)
	}
	if got.GetTopic() != want.GetTopic() {
		return fmt.Errorf("setup pubsub: subscription %s exists on topic %s, want %s", want.Name, got.GetTopic(), want.GetTopic())
	}
	if got.GetPushConfig().GetPushEndpoint() == want.GetPushConfig().GetPushEndpoint() {
		return nil
	}
	pc := want.GetPushConfig()
	if pc == nil {
		pc = &pubsubpb.PushConfig{} // empty config turns push into pull
	}
	if err := client.SubscriptionAdminClient.ModifyPushConfig(ctx, &pubsubpb.ModifyPushConfigRequest{
		Subscription: want.Name,
		PushConfig:   pc,
	}); err != nil {
		return fmt.Errorf("setup pubsub: ModifyPushConfig(%s): %w", want.Name, err)
	}
	slog.Debug("localcloud: re-pointed subscription", "subscription", want.Name, "push", pc.GetPushEndpoint())
	return nil
}

func createTopic(ctx context.Context, client *pubsub.Client, name string) error {
	_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("setup pubsub: CreateTopic(%s): %w", name, err)
	}
	return nil
}

// ensureTopic creates topic in project on the emulator at host.
func ensureTopic(ctx context.Context, host, project, topic string) error {
	c, err := NewPubSubClient(ctx, host, project)
	if err != nil {
		return err
	}
	defer c.Close()
	return createTopic(ctx, c, topicName(project, topic))
}

func topicName(project, topic string) string {
	if strings.HasPrefix(topic, "projects/") {
		return topic
	}
	return "projects/" + project + "/topics/" + topic
}

func subscriptionName(project, sub string) string {
	if strings.HasPrefix(sub, "projects/") {
		return sub
	}
	return "projects/" + project + "/subscriptions/" + sub
}
