// Moving data between host memory and GPU buffers: the one place that creates data buffers, uploads
// float arrays and reads buffers back (the kernels themselves never read back but their status).

/** GPUBufferUsage / GPUMapMode values (spelled out: Node and Bun hosts need not define the globals). */
export const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128, INDIRECT: 256 } as const;
export const MAP_READ_MODE = 1;

/** A storage buffer the kernels and onnxruntime can read, write and copy (at least 16 bytes). */
export function dataBuffer(device: GPUDevice, bytes: number, label?: string): GPUBuffer {
  return device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, label });
}

/** Write `data` at the start of `buffer` (queue-ordered before later submissions). */
export function writeFloats(device: GPUDevice, buffer: GPUBuffer, data: Float32Array): void {
  device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/** A new data buffer holding `data`. */
export function uploadFloats(device: GPUDevice, data: Float32Array, label?: string): GPUBuffer {
  const buffer = dataBuffer(device, data.byteLength, label);
  writeFloats(device, buffer, data);
  return buffer;
}

/** The first `bytes` of each buffer, copied out in one submission. */
export async function readBuffers(device: GPUDevice, buffers: readonly { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]> {
  const encoder = device.createCommandEncoder();
  const staging = buffers.map(({ buffer, bytes }) => {
    const padded = Math.ceil(bytes / 4) * 4;
    const s = device.createBuffer({ size: Math.max(16, padded), usage: USAGE.MAP_READ | USAGE.COPY_DST });
    if (padded > 0) encoder.copyBufferToBuffer(buffer, 0, s, 0, padded);
    return s;
  });
  device.queue.submit([encoder.finish()]);
  return Promise.all(
    staging.map(async (s, i) => {
      await s.mapAsync(MAP_READ_MODE);
      const data = s.getMappedRange().slice(0, buffers[i]!.bytes);
      s.unmap();
      s.destroy();
      return data;
    }),
  );
}
