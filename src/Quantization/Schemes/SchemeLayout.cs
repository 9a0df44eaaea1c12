using System.Runtime.CompilerServices;

namespace Quantization.Schemes;

/// <summary>
/// The geometry of a <see cref="QuantScheme"/> tensor of <c>rows</c> × <c>columns</c> (docs/formats.md#scheme-layout):
/// three sections one after the other — the codes, row by row, each row a little-endian bit stream padded to whole bytes;
/// the scales in their scale type; for asymmetric integer schemes one zero-point byte per scale.
/// </summary>
internal readonly struct SchemeLayout
{
    private SchemeLayout(QuantScheme scheme, int rows, int columns)
    {
        Scheme = scheme;
        Rows = rows;
        Columns = columns;
        RowCodeBytes = (int)(((long)columns * scheme.Bits + 7) / 8);
        GroupLength = scheme.Granularity is SchemeGranularity.Group or SchemeGranularity.Block2D ? scheme.GroupSize : columns;
        GroupsPerRow = (columns + GroupLength - 1) / GroupLength;
        ScaleCount = scheme.Granularity switch
        {
            SchemeGranularity.Tensor => 1,
            SchemeGranularity.Row => rows,
            SchemeGranularity.Group => (long)rows * GroupsPerRow,
            _ => (long)((rows + scheme.GroupSize - 1) / scheme.GroupSize) * GroupsPerRow,
        };
        ScaleBytes = scheme.ScaleType == SchemeScaleType.F32 ? 4 : 2;
        CodeBytes = (long)rows * RowCodeBytes;
        ScalesOffset = CodeBytes;
        ZeroPointsOffset = ScalesOffset + ScaleCount * ScaleBytes;
        TotalBytes = ZeroPointsOffset + (scheme.HasZeroPoints ? ScaleCount : 0);
    }

    public QuantScheme Scheme { get; }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Bytes of one row's codes: ⌈columns · bits / 8⌉.</summary>
    public int RowCodeBytes { get; }

    /// <summary>Columns that share a scale along a row: the group or tile size, else the whole row. The last may be partial (tiles).</summary>
    public int GroupLength { get; }

    /// <summary>Scales along one row: ⌈columns / <see cref="GroupLength"/>⌉.</summary>
    public int GroupsPerRow { get; }

    public long ScaleCount { get; }

    public int ScaleBytes { get; }

    public long CodeBytes { get; }

    public long ScalesOffset { get; }

    public long ZeroPointsOffset { get; }

    public long TotalBytes { get; }

    /// <summary>The index of the scale (and zero point) of group <paramref name="group"/> of row <paramref name="row"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long ScaleIndex(int row, int group) => Scheme.Granularity switch
    {
        SchemeGranularity.Tensor => 0,
        SchemeGranularity.Row => row,
        SchemeGranularity.Group => (long)row * GroupsPerRow + group,
        _ => (long)(row / Scheme.GroupSize) * GroupsPerRow + group,
    };

    /// <summary>Checks the scheme and the shape; a group scheme needs columns that are a multiple of its group size.</summary>
    public static SchemeLayout Create(QuantScheme scheme, int rows, int columns)
    {
        scheme.ThrowIfInvalid(nameof(scheme));
        if (rows < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, "rows must not be negative.");
        }

        if (columns <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, "columns must be positive.");
        }

        if (scheme.Granularity == SchemeGranularity.Group && columns % scheme.GroupSize != 0)
        {
            ThrowHelper.ThrowArgument(nameof(columns), $"columns ({columns}) must be a multiple of the group size {scheme.GroupSize}.");
        }

        return new SchemeLayout(scheme, rows, columns);
    }

    /// <summary>Checks that <paramref name="length"/> bytes are exactly this tensor's.</summary>
    public void ThrowIfWrongByteCount(int length, string paramName)
    {
        if (length != TotalBytes)
        {
            ThrowHelper.ThrowArgument(paramName, $"{paramName} has {length} bytes; {Rows} × {Columns} in {Scheme} take {TotalBytes}.");
        }
    }
}
