/**
 * GRPO: group-relative advantages, clipped surrogate, KL to a reference model, rule-based
 * rewards, trainer (see the open issue "GRPO in grpo"; this module is empty until then).
 */
package dev.panamax.grpo;
