export * from './amqp-messages.js'
export { type AsyncApiOptions, buildAsyncApiDocument } from './asyncapi.js'
export * from './common.js'
export * from './constants.js'
export * from './decode.js'
export * from './encode.js'
export { jsonTextExceedsDepth, jsonValueProblem } from './json-depth.js'
export * from './presence-messages.js'
export * from './takeover-messages.js'
export {
  ciValidators,
  clientFrameValidator,
  describeFirstError,
  errorFrameValidator,
  replyFrameValidator,
  requestIdValidator,
  resultValidator,
  serverFrameValidator,
  sessionFrameValidator,
  traceValidator,
  umValidators,
} from './validators.js'
export * from './ws-frames.js'
