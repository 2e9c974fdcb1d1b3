/**
 * OpenTelemetry messaging semantic-convention names we use, copied here as the
 * semantic-conventions package advises (its `/incubating` entry may change in minor
 * releases). Redis Streams has no registered `messaging.system`: `redis` is the custom
 * low-cardinality value, matching `db.system.name=redis` of the ioredis instrumentation.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_CONVERSATION_ID = 'messaging.message.conversation_id';
export const ATTR_MESSAGING_CLIENT_ID = 'messaging.client.id';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
export const ATTR_ERROR_TYPE = 'error.type';
/** Custom, under the system namespace as the conventions require. */
export const ATTR_REDIS_DELIVERY_COUNT = 'messaging.redis.message.delivery_count';

export const MESSAGING_SYSTEM_REDIS = 'redis';

/** solvestream's own attributes for the provider phases. */
export const ATTR_TASK_ID = 'solvestream.task.id';
export const ATTR_TASK_TYPE = 'solvestream.task.type';
export const ATTR_TASK_ATTEMPT = 'solvestream.task.attempt';
export const ATTR_PROVIDER = 'solvestream.provider.name';
export const ATTR_PROVIDER_TASK_ID = 'solvestream.provider.task_id';
export const ATTR_POLL_COUNT = 'solvestream.poll.count';
/** On the `submit` span: what the checkpoint write answered (recorded | stale | terminal). */
export const ATTR_CHECKPOINT = 'solvestream.checkpoint';
/** Provider task ids asked for in one (batched) poll request. */
export const ATTR_POLL_BATCH_SIZE = 'solvestream.poll.batch_size';
