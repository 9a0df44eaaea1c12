namespace Quantization.Kernels;

/// <summary>
/// One vector width (<see cref="Width512"/>, <see cref="Width256"/>, <see cref="Width128"/>) for a kernel written once
/// over its float lanes <typeparamref name="TFloat"/> and int32 lanes <typeparamref name="TInt"/>. The vector types'
/// operators are not reachable from generic code (they implement no public generic-math interface), so the width
/// supplies them too. The kernel takes the width as a struct type argument, so the JIT compiles one specialised copy per
/// width with every call inlined to the same instructions as code written for that vector type.
/// </summary>
internal interface ISimdWidth<TFloat, TInt>
    where TFloat : struct
    where TInt : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Lanes { get; }

    /// <summary><paramref name="value"/> in every lane.</summary>
    static abstract TFloat Broadcast(float value);

    /// <inheritdoc cref="Broadcast"/>
    static abstract TInt BroadcastInt(int value);

    /// <summary><see cref="Lanes"/> floats from <paramref name="source"/> + <paramref name="index"/>, unaligned.</summary>
    static abstract TFloat Load(ref float source, nuint index);

    /// <summary><see cref="Lanes"/> bytes from <paramref name="source"/>, zero-extended to int32 lanes.</summary>
    static abstract TInt WidenBytes(ref byte source);

    /// <summary>Each int32 lane converted to float.</summary>
    static abstract TFloat ConvertToSingle(TInt value);

    /// <summary>a + b per lane.</summary>
    static abstract TFloat Add(TFloat a, TFloat b);

    /// <summary>a · b per lane.</summary>
    static abstract TFloat Multiply(TFloat a, TFloat b);

    /// <summary>a − b per int32 lane.</summary>
    static abstract TInt Subtract(TInt a, TInt b);

    /// <summary>a &amp; b per int32 lane.</summary>
    static abstract TInt And(TInt a, TInt b);

    /// <summary>a &gt;&gt;&gt; <paramref name="count"/> per int32 lane.</summary>
    static abstract TInt ShiftRightLogical(TInt a, int count);

    /// <summary>a · b + c, fused where the processor has it (a product's rounding, not a quantizer's).</summary>
    static abstract TFloat MultiplyAdd(TFloat a, TFloat b, TFloat c);

    /// <summary>a · b + c through <c>MultiplyAddEstimate</c>: fused where the CPU has FMA.</summary>
    static abstract TFloat MultiplyAddEstimate(TFloat a, TFloat b, TFloat c);

    /// <summary>The sum of the lanes, in the vector type's own order.</summary>
    static abstract float Sum(TFloat value);
}
