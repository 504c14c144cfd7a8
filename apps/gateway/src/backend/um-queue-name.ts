/**
 * The queue a RabbitMQ User Manager address names (`/queue/NAME`, `/amq/queue/NAME`, RabbitMQ 4's
 * `/queues/NAME`, or a bare `NAME`), or undefined for an address that is no queue.
 */
export function umQueueName(address: string): string | undefined {
  const match = /^\/(?:queue|amq\/queue|queues)\/([^/]+)$/.exec(address)
  if (match) return decodeURIComponent(match[1] as string)
  return address.startsWith('/') || address === '' ? undefined : address
}
