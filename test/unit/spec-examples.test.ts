import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allowedEnvs, loadSpecFile } from '../../src/spec';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));
const specFiles = readdirSync(examples).filter((f) => f.endsWith('.yaml'));

describe('examples', () => {
  it('has the deploy example', () => {
    expect(specFiles).toContain('deploy.yaml');
  });

  it.each(specFiles)('%s loads cleanly', (file) => {
    expect(() => loadSpecFile(join(examples, file))).not.toThrow();
  });

  it('deploy.yaml means what its comments say', () => {
    const spec = loadSpecFile(join(examples, 'deploy.yaml'), { kinds: ['Deployment'] });
    expect(spec).toMatchObject({ name: 'hello-nginx', replicas: 3, placement: { nodes: [3, 7] }, kms: 'phala' });
    expect(spec.compose.dockerCompose).toContain('image: nginx:');
    expect(allowedEnvs(spec)).toEqual(['API_TOKEN', 'GREETING']);
  });
});
