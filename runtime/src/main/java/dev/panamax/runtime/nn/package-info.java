/** Modules and named parameters: {@link dev.panamax.runtime.nn.Module}, {@link dev.panamax.runtime.nn.Parameter}. */
package dev.panamax.runtime.nn;
