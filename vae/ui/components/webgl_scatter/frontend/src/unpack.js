// Typed-array views over the binary arguments (Uint8Array from Streamlit).

export function f32(u8) {   // a Float32Array over bytes (copied when not 4-byte aligned)
  if (!u8) return null;
  const b = u8.byteOffset % 4 === 0 ? u8 : u8.slice();
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
export function u16(u8) {
  if (!u8) return null;
  const b = u8.byteOffset % 2 === 0 ? u8 : u8.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}
