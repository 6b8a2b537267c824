package crd4j.model;

import crd4j.backend.Backend;
import crd4j.backend.Tensor;
import crd4j.nn.NnContext;
import crd4j.tensor.DType;
import crd4j.tensor.HostTensor;

import java.lang.reflect.Proxy;

/**
 * A backend that only records shapes, so the paper preset (386.7 M parameters) can be built in a test without
 * allocating its weights. Every compute call fails.
 */
final class ShapeOnly {
    private ShapeOnly() {}

    record ShapeTensor(long[] shape, DType dtype) implements Tensor {
        @Override
        public HostTensor toHost() { throw new UnsupportedOperationException("shape-only tensor"); }
    }

    static NnContext context() {
        Backend be = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "fromHost" -> new ShapeTensor(((HostTensor) args[0]).shape(), ((HostTensor) args[0]).dtype());
                    case "name" -> "shape-only";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        return new NnContext(be, DType.FLOAT32, 0);
    }
}
