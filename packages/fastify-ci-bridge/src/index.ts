import { fastifyCiBridge } from './plugin.js'

export {
  type BridgeAddresses,
  DEFAULT_QUEUE_PREFIX,
  rabbitmqNodeQueue,
  rabbitmqReplyAddress,
  replyAddressFor,
} from './addresses.js'
export type { AmqpId, AmqpIdInput } from './amqp-ids.js'
export { createCiBridge } from './bridge.js'
export { DECODE_ERROR_CONDITION, HANDLER_ERROR_CONDITION } from './consumer.js'
export {
  BridgeError,
  type BridgeErrorCode,
  type BridgeErrorDetails,
  hasBridgeErrorCode,
  isBridgeError,
} from './errors.js'
export { DEFAULTS } from './options.js'
export type {
  BridgeLogger,
  BridgeState,
  BridgeStats,
  BrokerProfile,
  CiBridge,
  CiBridgeEvents,
  CiBridgeOptions,
  OnMessageHandler,
  ReceivedMeta,
  RequestOptions,
  RequestReplyResult,
  SendOptions,
  StandaloneCiBridge,
  SubscribeOptions,
  Subscription,
} from './types.js'
export { fastifyCiBridge }
export default fastifyCiBridge
