using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Quantization.Formats;

/// <summary>
/// The vector step of IQ3_XXS and IQ3_S dequantization: values y = (db·magnitude)·(±1), each lane the scalar
/// reference's two products, so the floats are the same bit for bit on every width.
/// </summary>
internal static class Iq3Dequantize
{
    /// <summary>
    /// Sixteen values: the magnitudes are the sixteen bytes of <paramref name="magnitudes"/> (value e in byte e), bit e of
    /// <paramref name="signs"/> set where value e is negative.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Values16(Vector128<byte> magnitudes, int signs, float db, ref float y)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<int> bits = Vector512.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);
            Vector512<int> negative = Vector512.Equals(Vector512.Create(signs) & bits, bits);
            Vector512<float> sign = Vector512.ConditionalSelect(negative.AsSingle(), Vector512.Create(-1f), Vector512.Create(1f));
            Vector512<int> m = Vector512.WidenLower(Vector256.WidenLower(magnitudes.ToVector256Unsafe()).ToVector512Unsafe()).AsInt32();
            (Vector512.Create(db) * Vector512.ConvertToSingle(m) * sign).StoreUnsafe(ref y);
            return;
        }

        Values8(magnitudes.AsUInt64().ToScalar(), signs & 0xFF, db, ref y);
        Values8(magnitudes.AsUInt64().GetElement(1), signs >> 8, db, ref Unsafe.Add(ref y, 8));
    }

    /// <summary>Eight values: magnitudes the eight bytes of <paramref name="magnitudes"/>, signs the bits of <paramref name="signs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Values8(ulong magnitudes, int signs, float db, ref float y)
    {
        Vector128<ushort> m16 = Vector128.WidenLower(Vector128.CreateScalar(magnitudes).AsByte());
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<int> bits = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);
            Vector256<int> negative = Vector256.Equals(Vector256.Create(signs) & bits, bits);
            Vector256<float> sign = Vector256.ConditionalSelect(negative.AsSingle(), Vector256.Create(-1f), Vector256.Create(1f));
            Vector256<int> m = Vector256.WidenLower(m16.ToVector256Unsafe()).AsInt32();
            (Vector256.Create(db) * Vector256.ConvertToSingle(m) * sign).StoreUnsafe(ref y);
            return;
        }

        Values4(Vector128.WidenLower(m16).AsInt32(), signs & 0xF, db, ref y);
        Values4(Vector128.WidenUpper(m16).AsInt32(), signs >> 4, db, ref Unsafe.Add(ref y, 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values4(Vector128<int> magnitudes, int signs, float db, ref float y)
    {
        Vector128<int> bits = Vector128.Create(1, 2, 4, 8);
        Vector128<int> negative = Vector128.Equals(Vector128.Create(signs) & bits, bits);
        Vector128<float> sign = Vector128.ConditionalSelect(negative.AsSingle(), Vector128.Create(-1f), Vector128.Create(1f));
        (Vector128.Create(db) * Vector128.ConvertToSingle(magnitudes) * sign).StoreUnsafe(ref y);
    }
}
