/**
 * The size on the wire of a QoS 1 PUBLISH, to compare with the broker's MQTT 5 Maximum Packet Size
 * (CONNACK property, MQTT 5.0 section 3.2.2.3.6): "The Client MUST NOT send packets exceeding
 * Maximum Packet Size to the Server" (section 3.1.2.11.4), and a broker that receives one closes
 * the connection (Mosquitto 2.0 with `max_packet_size` does). MQTT.js 5 checks only the packets it
 * receives, never those it sends, so the publisher checks its events itself.
 */

/** The MQTT 5 properties an event PUBLISH may carry (event-drain.ts `eventOptions`). */
export interface PublishSizeProperties {
  contentType?: string | undefined;
  userProperties?: Readonly<Record<string, string>> | undefined;
}

/**
 * Bytes of a QoS 1 or 2 PUBLISH packet (MQTT 5.0 section 3.3; MQTT 3.1.1 section 3.3): fixed
 * header (1 byte and the Remaining Length as a variable byte integer), topic name (2-byte length
 * and UTF-8), packet identifier (2), with MQTT 5 the properties (their length as a variable byte
 * integer, then each property: identifier 1 byte; content type a UTF-8 string; a user property a
 * UTF-8 string pair), then the payload.
 *
 * @param payloadBytes the payload's length in bytes (UTF-8 of the stored JSON text)
 */
export function publishPacketSize(topic: string, payloadBytes: number, protocolVersion: 4 | 5, properties?: PublishSizeProperties): number {
  let remaining = 2 + utf8Bytes(topic) + 2 + payloadBytes;
  if (protocolVersion === 5) {
    let props = 0;
    if (properties?.contentType !== undefined) props += 1 + 2 + utf8Bytes(properties.contentType);
    for (const [key, value] of Object.entries(properties?.userProperties ?? {})) props += 1 + 2 + utf8Bytes(key) + 2 + utf8Bytes(value);
    remaining += variableByteIntegerSize(props) + props;
  }
  return 1 + variableByteIntegerSize(remaining) + remaining;
}

/** Bytes of `n` as a variable byte integer (MQTT 5.0 section 1.5.5): 1 to 4. */
export function variableByteIntegerSize(n: number): number {
  if (n < 128) return 1;
  if (n < 16_384) return 2;
  if (n < 2_097_152) return 3;
  return 4;
}

/** Bytes of `text` in UTF-8. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
