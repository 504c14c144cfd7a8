import type { DemoPage } from './demo-page.js'
import { byTestId } from './dom.js'
import {
  type Checked,
  checkBurstCount,
  checkChatText,
  checkEventName,
  checkJsonData,
  checkRoomName,
} from './input-rules.js'
import type { Notices } from './notices.js'

/**
 * Binds the forms to the page's actions. Input a person can get wrong is checked here and
 * explained in a notice, with the focus put back on the field to fix.
 */
export function bindForms(page: DemoPage, notices: Notices): void {
  const valid = <T>(checked: Checked<T>, field: HTMLElement): checked is { ok: true; value: T } => {
    field.setAttribute('aria-invalid', String(!checked.ok))
    if (checked.ok) return true
    notices.show('warning', checked.message)
    field.focus()
    return false
  }
  const onSubmit = (form: HTMLFormElement, action: () => void) =>
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      action()
    })

  const echoText = byTestId('echo-text', HTMLInputElement)
  onSubmit(byTestId('echo-form', HTMLFormElement), () => void page.echo(echoText.value))

  const roomName = byTestId('room-name', HTMLInputElement)
  onSubmit(byTestId('room-form', HTMLFormElement), () => {
    const room = checkRoomName(roomName.value)
    if (valid(room, roomName)) void page.join(room.value)
  })
  byTestId('room-leave', HTMLButtonElement).addEventListener('click', () => {
    const room = checkRoomName(roomName.value)
    if (valid(room, roomName)) void page.leave(room.value)
  })

  const chatRoom = byTestId('chat-room', HTMLSelectElement)
  const chatText = byTestId('chat-text', HTMLInputElement)
  onSubmit(byTestId('chat-form', HTMLFormElement), () => {
    if (chatRoom.value === '') {
      notices.show('warning', 'Join a room before sending to it.')
      roomName.focus()
      return
    }
    const text = checkChatText(chatText.value)
    if (!valid(text, chatText)) return
    void page.say(chatRoom.value, text.value).then((sent) => {
      if (sent) chatText.value = ''
    })
  })

  const userText = byTestId('user-text', HTMLInputElement)
  onSubmit(byTestId('user-form', HTMLFormElement), () => {
    const text = checkChatText(userText.value)
    if (!valid(text, userText)) return
    void page.notifyUser(text.value).then((sent) => {
      if (sent) userText.value = ''
    })
  })

  const customEvent = byTestId('custom-event', HTMLInputElement)
  const customData = byTestId('custom-data', HTMLTextAreaElement)
  onSubmit(byTestId('custom-form', HTMLFormElement), () => {
    const event = checkEventName(customEvent.value)
    if (!valid(event, customEvent)) return
    const data = checkJsonData(customData.value)
    if (valid(data, customData)) void page.custom(event.value, data.value)
  })

  const burstCount = byTestId('burst-count', HTMLInputElement)
  onSubmit(byTestId('burst-form', HTMLFormElement), () => {
    const count = checkBurstCount(burstCount.value)
    if (valid(count, burstCount)) void page.burst(count.value)
  })
}
