import { AcksView } from './acks-view.js'
import { ChatView } from './chat-view.js'
import { DemoPage } from './demo-page.js'
import { byTestId } from './dom.js'
import { LogView } from './log-view.js'
import { Notices } from './notices.js'
import { PageConnection } from './page-connection.js'
import { PresenceView } from './presence-view.js'
import { StatusView } from './status-view.js'
import { bindForms } from './ui.js'
import { pageUser, withToken } from './user-token.js'
import { resolveSocketUrl } from './ws-url.js'

function boot(): void {
  const notices = new Notices(byTestId('notices', HTMLElement))
  const status = new StatusView({
    status: byTestId('conn-status', HTMLElement),
    statusText: byTestId('conn-status-text', HTMLElement),
    detail: byTestId('conn-detail', HTMLElement),
    toggle: byTestId('connect-toggle', HTMLButtonElement),
    retryNow: byTestId('reconnect-now', HTMLButtonElement),
    drop: byTestId('drop-connection', HTMLButtonElement),
    sid: byTestId('sid', HTMLElement),
  })
  const urlText = byTestId('ws-url', HTMLElement)
  const target = resolveSocketUrl(window.location)
  if (!target.ok) {
    urlText.textContent = 'none'
    status.render({ status: 'closed', by: 'client' }, false)
    notices.show('error', 'The page does not know where the gateway is.', target.message)
    return
  }
  urlText.textContent = target.url
  const user = pageUser(window.location.search)
  const presence = new PresenceView(
    byTestId('signed-in-as', HTMLElement),
    byTestId('user-messages', HTMLOListElement),
    byTestId('presence-rooms', HTMLElement),
  )
  presence.signedInAs(user?.sub)

  const log = new LogView(byTestId('frame-log', HTMLElement), byTestId('frame-list', HTMLOListElement))
  byTestId('log-clear', HTMLButtonElement).addEventListener('click', () => log.clear())

  let page: DemoPage | undefined
  const connection = new PageConnection(withToken(target.url, user), {
    state: (state) => page?.onState(state),
    session: (info) => page?.onSession(info),
    event: (frame) => page?.onEvent(frame),
    frame: (text, duplicate) => page?.onFrame(text, duplicate),
    sent: (text) => page?.onSent(text),
    settled: (outcome) => page?.onSettled(outcome),
    warning: (message) => page?.onProtocolWarning(message),
  })
  const chat = new ChatView(
    byTestId('chat-log', HTMLOListElement),
    byTestId('my-rooms', HTMLUListElement),
    byTestId('my-rooms-empty', HTMLElement),
    byTestId('chat-room', HTMLSelectElement),
    (room) => void page?.leave(room),
  )
  page = new DemoPage(connection, {
    status,
    log,
    acks: new AcksView(byTestId('acks', HTMLTableSectionElement)),
    chat,
    presence,
    notices,
    echoResult: byTestId('echo-result', HTMLElement),
    knownEvents: byTestId('known-events', HTMLDataListElement),
  })
  bindForms(page, notices)

  byTestId('connect-toggle', HTMLButtonElement).addEventListener('click', () => {
    const s = connection.state.status
    if (s === 'closed') connection.start()
    else connection.stop()
  })
  byTestId('reconnect-now', HTMLButtonElement).addEventListener('click', () => connection.retryNow())
  byTestId('drop-connection', HTMLButtonElement).addEventListener('click', () => page?.drop())

  connection.start()
}

boot()
