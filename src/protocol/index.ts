/**
 * The protocol layer's public face: the device registry (a module per protocol, contract.md
 * section 5), the framers, decoders and encoders, and the shared shapes. Pure: no timers, no I/O,
 * no Node imports.
 */
export * from "./types.js";
export * from "./device-protocol.js";
export { PROTOCOLS, findProtocol, protocolNames, type NonEmpty } from "./registry.js";
export { displayedToGrams, gramsToDisplayed, type DisplayUnit } from "./grams.js";
export { toHex } from "./bytes.js";
export {
  A9_FRAME_BYTES,
  createYaohuaA9Framer,
  decodeYaohuaA9,
  encodeYaohuaA9,
  yaohuaA9,
  type A9ChecksumStyle,
  type A9Reading,
} from "./scale/yaohua-a9.js";
export {
  ST_GS_MAX_LINE_BYTES,
  asciiStGs,
  createStGsFramer,
  decodeStGs,
  encodeStGs,
  type StGsReading,
} from "./scale/ascii-st-gs.js";
export {
  A12_LINE_CHARS,
  A12_MAX_LINE_BYTES,
  createYaohuaA12Framer,
  decodeYaohuaA12,
  encodeYaohuaA12,
  yaohuaA12,
  type A12Reading,
} from "./scale/yaohua-a12.js";
export {
  TOLEDO_MAX_FRAME_BYTES,
  createToledoFramer,
  decodeToledo,
  encodeToledo,
  toledoContinuous,
  type ToledoOptions,
  type ToledoReading,
} from "./scale/toledo-continuous.js";
export {
  OHAUS_MAX_LINE_BYTES,
  createOhausFramer,
  decodeOhaus,
  encodeOhaus,
  ohaus,
  type OhausReading,
} from "./scale/ohaus.js";
export {
  CAS22_LINE_BYTES,
  CAS22_MAX_DEVICE_ID,
  CAS22_MAX_LINE_BYTES,
  cas22,
  createCas22Framer,
  decodeCas22,
  encodeCas22,
  type Cas22Reading,
} from "./scale/cas-22.js";
export {
  MT_SICS_MAX_LINE_BYTES,
  MT_SICS_POLL_MS,
  SI_REQUEST,
  TARE_REQUEST,
  ZERO_REQUEST,
  createMtSicsFramer,
  decodeMtSics,
  encodeMtSics,
  mtSics,
  type MtSicsReading,
} from "./scale/mt-sics.js";
export {
  MODBUS_POLL_MS,
  createModbusRtuFramer,
  decodeModbusRtu,
  encodeModbusRtu,
  encodeModbusRtuException,
  modbusRtu,
  modbusRtuRequest,
  type ModbusRtuOptions,
} from "./scale/modbus-rtu.js";
export {
  EM4100_CARD_FORMATS,
  EM4100_FRAME_BYTES,
  EM4100_RAW_CHECKSUM_FRAME_BYTES,
  createEm4100Framer,
  decodeEm4100,
  em4100Ascii,
  encodeEm4100,
  formatCardId,
  type Em4100CardFormat,
  type Em4100Variant,
} from "./reader/em4100-ascii.js";
export {
  ASCII_LINE_MAX_BYTES,
  asciiLine,
  compileIdPattern,
  createAsciiLineFramer,
  decodeAsciiLine,
  encodeAsciiLine,
  idPatternProblem,
  type AsciiLineEncoding,
  type IdPattern,
  type IdPatternProblem,
} from "./reader/ascii-line.js";
export {
  DYP_A02_FRAME_BYTES,
  DYP_A02_MAX_MM,
  DYP_A02_MIN_MM,
  createDypA02Framer,
  decodeDypA02,
  dypA02,
  encodeDypA02,
  type DypA02Limits,
} from "./level/dyp-a02.js";
export {
  TF_LUNA_FRAME_BYTES,
  TF_LUNA_MAX_REPLY_BYTES,
  TF_LUNA_MIN_STRENGTH,
  createTfLunaFramer,
  decodeTfLuna,
  encodeTfLuna,
  tfLuna,
} from "./level/tf-luna.js";
export { formatCardNumber, hexOf, type CardForm } from "./reader/card-id.js";
export {
  ISO14443_CARD_FORMATS,
  UID_BYTE_ORDERS,
  UID_TEXTS,
  createIso14443Framer,
  decodeIso14443Line,
  encodeIso14443,
  formatUid,
  iso14443Text,
  parseUid,
  type Iso14443CardFormat,
  type Iso14443Options,
  type UidByteOrder,
  type UidText,
} from "./reader/iso14443-text.js";
export {
  WIEGAND_CARD_FORMATS,
  WIEGAND_MIN_EDGE_SPACING_US,
  createWiegandFramer,
  decodeWiegandBits,
  encodeWiegand,
  splitWiegandFrames,
  wiegand,
  wiegandFrameGapMs,
  type WiegandCardFormat,
  type WiegandEdge,
  type WiegandOptions,
} from "./reader/wiegand.js";
