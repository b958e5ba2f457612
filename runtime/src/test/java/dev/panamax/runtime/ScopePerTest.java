package dev.panamax.runtime;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** JUnit extension: each test runs inside its own {@link Scope}, closed after it. */
public final class ScopePerTest implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(ScopePerTest.class);

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NS).put("scope", Scope.open());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Scope s = context.getStore(NS).remove("scope", Scope.class);
        if (s != null) s.close();
    }
}
