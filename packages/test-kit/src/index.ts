export { type UntilOptions, until } from './until.js'
export { within } from './within.js'
export { type CloseInfo, type Frame, TestClient } from './ws-client.js'
