import type { Profile } from '../../config.js';
import { Unavailable } from '../../errors.js';
import type { Backends } from '../ports.js';

export async function openGcpBackends(profile: Profile): Promise<Backends> {
  throw new Unavailable(`The Google Cloud adapters are not available for ${profile.projectId}`);
}
