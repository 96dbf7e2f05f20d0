// engine-below-agents: the engine knows the HA agent.
import { direct } from '../ha/observe.js';
export const upward = direct;
