import { createRequire } from 'node:module';
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, type CodecKey } from './codec';

const require = createRequire(import.meta.url);
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter.cjs');

/** The one data converter of the project: worker and every client must use the same one. */
export function createDataConverter(codecKeys: CodecKey[] | undefined): DataConverter {
  if (!codecKeys) return {};
  return { payloadCodecs: [new AesGcmPayloadCodec(codecKeys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
